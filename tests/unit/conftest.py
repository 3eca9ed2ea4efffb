"""Make the checkout importable as ansible_collections.runbook.rollback (plain pytest from the checkout;
`ansible-test units` installs Ansible's collection loader itself), register the markers (ansible-test runs
pytest with --strict-markers and a configuration of its own), and the shared fixtures. Helpers the tests
import are in support.py."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest


def _collections_root():
    here = Path(__file__).resolve().parents[2]
    if here.parent.name == "runbook" and here.parents[1].name == "ansible_collections":
        return None  # already a collection tree: ansible-test's
    root = here / ".collections"
    if (root / "ansible_collections" / "runbook" / "rollback" / "plugins").is_dir():
        return root
    # A fresh clone without `make setup`: link the checkout into a throwaway tree instead of
    # touching the repository.
    tmp = Path(tempfile.mkdtemp(prefix="runbook-collections-"))
    ns = tmp / "ansible_collections" / "runbook"
    ns.mkdir(parents=True)
    (ns / "rollback").symlink_to(here)
    return tmp


_ROOT = _collections_root()
if _ROOT is not None and str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))


def pytest_configure(config):
    config.addinivalue_line("markers", "functional: runs ansible or ansible-playbook as a subprocess (slower)")


@pytest.fixture
def ansible_module():
    """Run a module of the collection through `ansible localhost` (support.run_module)."""
    from ansible_collections.runbook.rollback.tests.unit.support import run_module

    return run_module
