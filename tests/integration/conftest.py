"""A real staging stack per test module: its own git repository, compose project and port.

`make integration` runs the modules on two workers (pytest-xdist, --dist loadfile: a module's tests
stay together, in file order, on one worker). Modules start heaviest first, so that the last one to
start is a short one and both workers finish together.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from stack import Stack

# Measured on a 2-core machine (pytest --durations, seconds per module): the longest modules first.
# A module not listed runs after them, in collection order.
HEAVIEST_FIRST = (
    "test_assess.py",
    "test_procedure_a.py",
    "test_procedure_b.py",
    "test_procedure_c.py",
    "test_fallback.py",
    "test_interrupted.py",
    "test_notify.py",
    "test_backup.py",
    "test_backup_s3.py",
    "test_prometheus.py",
    "test_procedure_d.py",
    "test_report_browser.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(HEAVIEST_FIRST)}
    # sort is stable: the tests of a module keep their file order.
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


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
