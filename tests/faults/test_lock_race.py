"""Three runs breaking the same stale lock at the same moment, and a fourth from a second controller
(another host name, as another AWX job's container has): exactly one proceeds.

Each run is a real ansible-playbook taking runbook.rollback.lock with break_lock=true (the controller side
judges the holder, the module takes the file), then holding it for a while as a rollback would, then
releasing it. The stale lock names a process of this controller that is gone.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from stack import BIN, REPO

PLAYBOOK = """
- name: Hold the lock as a rollback would
  hosts: localhost
  gather_facts: false
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Take the lock, breaking a stale one
      runbook.rollback.lock:
        path: "{{ lock_path }}"
        run_id: "{{ run_id }}"
        owner: {procedure: race, user: "{{ run_id }}"}
        break_lock: true
    - name: Hold it
      ansible.builtin.wait_for:
        timeout: 8
    - name: Release it
      runbook.rollback.lock:
        path: "{{ lock_path }}"
        run_id: "{{ run_id }}"
        state: absent
"""


def dead_pid() -> int:
    """A pid that no process has now (a child that has ended)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)  # fmt: skip
    return int(proc.stdout)


@pytest.mark.fault(
    "Three runs breaking the same stale lock at once, plus a second controller with another host name",
    how="four ansible-playbook runs started together with break_lock=true, one in its own UTS namespace",
    holds="exactly one breaks the lock and proceeds; the others are refused, naming the live holder",
)
def test_three_runs_break_one_stale_lock_and_exactly_one_proceeds(tmp_path: Path, fault_result):
    lock = tmp_path / "state" / "lock"
    lock.parent.mkdir()
    stale = {"run_id": "killed-run", "owner": {"procedure": "Procedure A", "user": "earlier"},
             "host": socket.gethostname(), "pid": dead_pid(), "acquired_at": "2026-01-01T00:00:00Z"}  # fmt: skip
    lock.write_text(json.dumps(stale))
    (tmp_path / "race.yml").write_text(PLAYBOOK)
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               RUNBOOK_TIMELINE_DIR=str(tmp_path / "timelines"), PATH=f"{BIN}:{os.environ['PATH']}")  # fmt: skip

    def start(n: int, other_controller: bool = False) -> subprocess.Popen:
        argv = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(tmp_path / "race.yml"),
                "-e", json.dumps({"lock_path": str(lock), "run_id": f"run-{n}"})]  # fmt: skip
        if other_controller:
            # Its own host name, in a UTS namespace of its own: nothing changes on the machine.
            argv = ["unshare", "--uts", "sh", "-c", 'hostname other-controller && exec "$@"', "sh", *argv]
        return subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    runs = [start(n) for n in range(3)] + [start(3, other_controller=True)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    codes = [run.returncode for run in runs]
    proceeded = [n for n, code in enumerate(codes) if code == 0]
    assert len(proceeded) == 1, list(zip(codes, [o[-1500:] for o in outputs], strict=True))
    winner = proceeded[0]
    # The winner broke the stale lock, or found it already gone: another run removed it and lost the race to
    # take it (it says so, and nothing about having broken it).
    broke = "broke the stale lock" in outputs[winner] or "broke the lock" in outputs[winner]
    assert broke or any("while this run was breaking the one before" in out for out in outputs), outputs
    for n, out in enumerate(outputs):
        if n != winner:
            assert f"run-{winner}" in out and "holds the lock" in out, out[-1500:]
            assert "broke the" not in out
    # Across the two controllers the live lock is a foreign one for somebody: refused, never broken.
    assert any("that run may still be going" in out for n, out in enumerate(outputs) if n != winner), outputs
    assert not lock.exists(), "the winner released the lock"
    fault_result.update(secrets_found=0)
