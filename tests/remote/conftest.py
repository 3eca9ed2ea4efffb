"""Targets that are other machines: each a container with its own filesystem and Docker engine, reached over
SSH (tests/integration/target.py). The helpers of tests/integration are shared."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from fixtures import docker_engine  # noqa: F401 (the fixtures of tests/integration)
