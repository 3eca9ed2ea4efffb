"""The collection's own ansible-lint rule (.config/ansible-lint/rules/runbook_var_prefix.py), run by
ansible-lint on a role: a variable set within a role carries the role's prefix or rollback_."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

TASKS = """---
- name: Set what the steps after it read
  ansible.builtin.set_fact:
    rollback_shared_state: 1
    drain_only_mine: 2
    drain_flag: 3
    other_value: 4

- name: Ask the balancer
  ansible.builtin.command: "true"
  register: balancer_answer
  changed_when: false
"""


def test_a_role_variable_needs_the_role_prefix_or_rollback(tmp_path):
    tasks = tmp_path / "roles" / "drain" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "main.yml").write_text(TASKS)
    config = tmp_path / "lint.yml"
    config.write_text(
        "---\nrulesdir:\n  - %s\nuse_default_rules: true\nenable_list:\n  - runbook-var-prefix\n"
        "skip_list:\n  - var-naming[no-role-prefix]\n" % (REPO_ROOT / ".config" / "ansible-lint" / "rules")
    )
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-lint"), "--offline", "--nocolor", "-f", "pep8", "-c", str(config), "roles/drain"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    found = [line for line in proc.stdout.splitlines() if "runbook-var-prefix" in line]
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert len(found) == 2, proc.stdout + proc.stderr
    assert "(set_fact: drain_only_mine)" not in proc.stdout and "(set_fact: drain_flag)" not in proc.stdout
    assert any("(register: balancer_answer)" in line for line in found)
    assert any("(set_fact: other_value)" in line for line in found)
    assert not any("rollback_shared_state" in line for line in found)
