"""Three runs breaking the same stale lock at the same moment, and a fourth from a second controller
(another host name, as another AWX job's container has): exactly one proceeds. Then AWX jobs, run by
ansible-runner as AWX runs them: a job AWX says is running keeps its lock, whatever asks.

Each run is a real ansible-playbook taking runbook.rollback.lock with break_lock=true (the controller side
judges the holder, the module takes the file), then holding it for a while as a rollback would, then
releasing it. The stale lock names a process of this controller that is gone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from awxjob import AwxApi, job_env, launch, private_data_dir
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


HOLDING = """
- name: Hold the lock until told to stop, as a long rollback would
  hosts: localhost
  gather_facts: false
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: Take the lock
      runbook.rollback.lock:
        path: "{{ lock_path }}"
        run_id: "{{ run_id }}"
        owner: {procedure: Procedure A, user: "{{ awx_user_name }}"}
        break_lock: "{{ break_lock | default(false) | bool }}"
    - name: Hold it
      ansible.builtin.wait_for:
        path: "{{ lock_path }}.done"
        timeout: 300
    - name: Release it
      runbook.rollback.lock:
        path: "{{ lock_path }}"
        run_id: "{{ run_id }}"
        state: absent
"""


@pytest.mark.fault(
    "Another AWX job breaks the lock of a job that AWX says is running, then of one it cancelled",
    how="ansible-runner jobs as AWX runs them (JOB_ID, AWX_HOST, awx_display), the first in a UTS namespace "
        "of its own (another container's host name) and killed; AWX's API on 127.0.0.1",
    holds="the live job's lock is never broken, not with break_lock, not with its run id, not without AWX to "
          "ask; once AWX says the job is over, the next job breaks it and proceeds",
)
def test_an_awx_job_never_breaks_the_lock_of_a_job_awx_says_is_running(tmp_path: Path, fault_result):
    lock = tmp_path / "state" / "lock"
    lock.parent.mkdir()
    project = tmp_path / "project"
    project.mkdir()
    (project / "hold.yml").write_text(HOLDING)
    (project / "ansible.cfg").write_text((REPO / "ansible.cfg").read_text().replace(
        "./.collections", str(REPO / ".collections")))  # fmt: skip
    inventory = json.dumps({"_meta": {"hostvars": {}}, "all": {"children": ["ungrouped"]}})
    api = AwxApi(token="awx-token-" + os.urandom(8).hex())
    answers = {"lock_path": str(lock), "run_id": "rollback-1"}
    try:
        # Job 201 in a container of its own: another host name, started through the runner's command line
        # with env/envvars as written for it, holding the lock.
        pdd = private_data_dir(tmp_path / "jobs", project, 201, answers, inventory, user="bob")
        (pdd / "env" / "envvars").write_text(json.dumps(job_env(201, api.url, {
            "RUNBOOK_TIMELINE_DIR": str(tmp_path / "timelines")})))  # fmt: skip
        first = subprocess.Popen(
            ["unshare", "--uts", "sh", "-c", 'hostname automation-job-201 && exec "$@"', "sh",
             str(BIN / "ansible-runner"), "run", str(pdd), "-p", "hold.yml", "--ident", "201",
             "--inventory", str(pdd / "inventory" / "hosts")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 120
        while not lock.exists():
            assert first.poll() is None and time.monotonic() < deadline, "job 201 never took the lock"
            time.sleep(0.2)
        holder = json.loads(lock.read_text())
        assert (holder["awx_job"], holder["host"]) == ("201", "automation-job-201"), holder

        def job(job_id: int, credential: bool):
            env = {"RUNBOOK_TIMELINE_DIR": str(tmp_path / "timelines"), **(api.credential_env() if credential else {})}
            return launch(tmp_path / "jobs", project, "hold.yml", job_id, dict(answers, break_lock="yes"),
                          inventory_json=inventory, awx_host=api.url, envvars=env, timeout=120)  # fmt: skip

        # AWX says 201 runs: job 202, asking to break the lock and giving the same run id, is refused.
        api.statuses["201"] = "running"
        refused = job(202, credential=True)
        assert refused.status == "failed" and first.poll() is None
        (msg,) = refused.failed_tasks()
        assert "in AWX job 201 of " + api.url in msg and "AWX job 201 of %s is running, AWX says" % api.url in msg
        assert "never broken" in msg and json.loads(lock.read_text()) == holder

        # AWX cancels 201 (its process is gone at once); the lock stays behind.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        api.statuses["201"] = "canceled"
        # A job with no AWX credential cannot ask: refused, the lock kept.
        blind = job(203, credential=False)
        (msg,) = blind.failed_tasks()
        assert "whether AWX job 201 of %s still runs is not known" % api.url in msg, msg
        assert json.loads(lock.read_text()) == holder
        # With the credential, AWX says the job is over: broken, and the job proceeds.
        (lock.parent / "lock.done").write_text("")
        taken = job(204, credential=True)
        assert taken.status == "successful", taken.output[-3000:]
        assert "broke the stale lock" in taken.output and "is over (canceled), AWX says" in taken.output
        assert not lock.exists()
        asked = [r for r in api.requests if r["path"] == "/api/v2/jobs/201/"]
        assert len(asked) == 2 and all(r["authorization"] == "Bearer " + api.token for r in asked)
        outputs = [refused.output, blind.output, taken.output]
        assert not any(api.token in out for out in outputs)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        api.close()
    fault_result.update(secrets_found=0)
