"""Faults caused for real on real staging stacks: the fixtures and helpers of tests/integration."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from fixtures import docker_engine, stack  # noqa: F401 (the fixtures of this directory)
