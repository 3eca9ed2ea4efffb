"""The Galaxy tarball holds the collection only: no staging app, benchmark, setup or CI script, drill,
example inventory or local state."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

NOT_SHIPPED = ("demo/", "bench/", "scripts/", "molecule/", "inventory/", ".ci/", ".config/", ".venv/", ".collections/",
               ".demo/", "Makefile", "ansible.cfg", "requirements.txt", "tests/integration/", "tests/faults/",
               "tests/remote/", "tests/tooling/")


def test_the_tarball_ships_the_collection_and_nothing_of_its_workshop(tmp_path):
    subprocess.run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path),
                    str(REPO_ROOT)], check=True, capture_output=True, text=True)  # fmt: skip
    (tarball,) = tmp_path.glob("runbook-rollback-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    for part in ("plugins/modules/compose_up.py", "roles/staged_restart/tasks/stage.yml", "playbooks/procedure_a.yml",
                 "meta/runtime.yml", "LICENSE", "tests/unit/test_decision.py"):
        assert part in names
    shipped = [n for n in names if n.startswith(NOT_SHIPPED) or "__pycache__" in n or n.endswith(".pyc")]
    assert shipped == []
