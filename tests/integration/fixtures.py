"""The fixtures of every module that runs real stacks (tests/integration, tests/faults); each directory's
conftest imports them."""

from __future__ import annotations

import pytest
from stack import engine_problem, new_stack


@pytest.fixture(scope="session", autouse=True)
def docker_engine():
    """These tests need the real engine that `make setup` starts; never skip silently."""
    problem = engine_problem()
    if problem:
        pytest.fail(problem)


@pytest.fixture(scope="module")
def stack():
    """A real staging stack per module: its own git repository, compose project, port and password."""
    with new_stack() as st:
        yield st
