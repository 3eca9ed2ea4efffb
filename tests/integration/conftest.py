"""A real staging stack per test module: its own git repository, compose project and port."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from stack import Stack


@pytest.fixture(scope="session", autouse=True)
def docker_engine():
    """Integration tests need the real engine that `make setup` starts; never skip silently."""
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail("no Docker engine answers: run `make setup` first\n" + probe.stderr[-500:])


@pytest.fixture(scope="module")
def stack():
    root = Path(tempfile.mkdtemp(prefix="rbtest-"))
    st = Stack(root, f"rbtest{uuid.uuid4().hex[:8]}")
    try:
        yield st
    finally:
        st.destroy()
        shutil.rmtree(root, ignore_errors=True)
