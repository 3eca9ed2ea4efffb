"""The timeline callback, for real: ansible-playbook on a tiny playbook with throwaway roles."""

from __future__ import annotations

import json
import subprocess

import pytest
from conftest import VENV_BIN, ansible_env

pytestmark = pytest.mark.functional

ROLES = {
    "preflight": """
- name: Ok task
  ansible.builtin.debug:
    msg: preflight
- name: Failure handled by rescue
  block:
    - name: Fails
      ansible.builtin.fail:
        msg: boom
  rescue:
    - name: Recovers
      ansible.builtin.debug:
        msg: recovered
- name: Ignored failure
  ansible.builtin.fail:
    msg: ignored
  ignore_errors: true
""",
    "cleanup": """
- name: Never runs
  ansible.builtin.debug:
    msg: never
  when: false
""",
    "verify": """
- name: Check
  ansible.builtin.debug:
    msg: verifying
- name: Verification fails when asked
  ansible.builtin.fail:
    msg: "verification failed"
  when: fail_verify | bool
""",
}

PLAYBOOK = """
- name: Tiny runbook
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    fail_verify: false
    db_password: hunter2-secret
  pre_tasks:
    - name: Outside any role
      ansible.builtin.debug:
        msg: pre
  roles:
    - preflight
    - cleanup
    - verify
"""


@pytest.fixture
def project(tmp_path):
    for role, tasks in ROLES.items():
        d = tmp_path / "roles" / role / "tasks"
        d.mkdir(parents=True)
        (d / "main.yml").write_text(tasks)
    (tmp_path / "rollback.yml").write_text(PLAYBOOK)
    return tmp_path


def run_playbook(project, *extra, **env):
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "rollback.yml"] + list(extra)
    full = ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
                       ANSIBLE_CALLBACKS_ENABLED="runbook.rollback.timeline")
    # Only the test's own settings: an ANSIBLE_CONFIG or RUNBOOK_TIMELINE_DIR from the caller would leak in.
    for key in ("ANSIBLE_CONFIG", "RUNBOOK_TIMELINE_DIR"):
        full.pop(key, None)
    full.update(env)
    env = full
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=180)


def test_successful_run(project):
    proc = run_playbook(project, "-e", "version=v1.2.3", RUNBOOK_TIMELINE_DIR="out/timelines")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The default stdout callback still runs.
    assert "PLAY RECAP" in proc.stdout
    assert "RUNBOOK TIMELINE (rollback.yml) version v1.2.3" in proc.stdout
    table = proc.stdout.split("RUNBOOK TIMELINE", 1)[1].splitlines()
    assert [ln.split()[0] for ln in table[1:5]] == ["preflight", "cleanup", "verify", "total"]

    out = project / "out" / "timelines"
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 2 and "latest.json" in files
    stamped = next(f for f in files if f != "latest.json")
    assert stamped.endswith("Z-rollback.json")
    data = json.loads((out / "latest.json").read_text())
    assert data == json.loads((out / stamped).read_text())

    assert data["playbook"] == "rollback.yml"
    assert data["version"] == "v1.2.3"
    assert data["status"] == "ok"
    steps = {s["name"]: s for s in data["steps"]}
    assert [s["name"] for s in data["steps"]] == ["preflight", "cleanup", "verify"]
    # Rescued and ignored failures do not fail the step.
    assert steps["preflight"]["status"] == "ok" and steps["preflight"]["tasks"] == 4
    assert steps["cleanup"]["status"] == "skipped" and steps["cleanup"]["tasks"] == 1
    assert steps["verify"]["status"] == "ok" and steps["verify"]["tasks"] == 2
    for s in data["steps"]:
        assert s["started_at"] <= s["ended_at"] and s["duration"] >= 0
    assert data["duration"] >= sum(s["duration"] for s in data["steps"]) - 0.01
    assert "hunter2-secret" not in json.dumps(data)


def test_failed_run(project):
    proc = run_playbook(project, "-e", "fail_verify=true", RUNBOOK_TIMELINE_DIR=str(project / "abs"))
    assert proc.returncode == 2
    data = json.loads((project / "abs" / "latest.json").read_text())
    assert data["status"] == "failed"
    assert data["version"] is None
    assert {s["name"]: s["status"] for s in data["steps"]} == {"preflight": "ok", "cleanup": "skipped",
                                                               "verify": "failed"}
    assert data["hosts"]["localhost"]["failures"] == 1
    assert "verify" in proc.stdout.split("RUNBOOK TIMELINE", 1)[1]


def test_no_dir_only_prints(project):
    proc = run_playbook(project)
    assert proc.returncode == 0
    assert "RUNBOOK TIMELINE (rollback.yml)" in proc.stdout
    assert not (project / "out").exists() and sorted(p.name for p in project.iterdir()) == ["roles", "rollback.yml"]


def test_ini_dir_relative_to_cwd(project):
    (project / "ansible.cfg").write_text("[runbook_timeline]\ndir = ./tl\n")
    proc = run_playbook(project, ANSIBLE_CONFIG=str(project / "ansible.cfg"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (project / "tl" / "latest.json").is_file()


def test_a_role_entered_through_tasks_files_is_one_step_per_entry_point(project):
    tasks = project / "roles" / "restore" / "tasks"
    tasks.mkdir(parents=True)
    for entry in ("side", "swap"):
        (tasks / f"{entry}.yml").write_text(f"- name: {entry}\n  ansible.builtin.debug:\n    msg: {entry}\n")
    (project / "rollback.yml").write_text("""
- name: Restore in two steps with a step between
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    fail_verify: false
  tasks:
    - {name: Side, ansible.builtin.import_role: {name: restore, tasks_from: side}}
    - {name: Verify, ansible.builtin.import_role: {name: verify}}
    - {name: Swap, ansible.builtin.import_role: {name: restore, tasks_from: swap.yml}}
""")
    proc = run_playbook(project, RUNBOOK_TIMELINE_DIR="out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((project / "out" / "latest.json").read_text())
    assert [s["name"] for s in data["steps"]] == ["restore_side", "verify", "restore_swap"]
