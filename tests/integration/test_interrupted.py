"""A rollback whose controller is killed mid-way, then run again, on a real Docker stack.

The tests share one stack and run in file order: the good release, the broken one, Procedure A
killed (SIGKILL to ansible-playbook and every process it started) during its staged restart, the same
command refused because the dead run's lock is still there, then run with -e break_lock=true to
the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
from interrupt import kill_run

REACHED_RESTART = "Start each stage"


def settled(stack, quiet: float = 6, limit: float = 180) -> dict:
    """The project's containers once nothing has changed for `quiet` seconds.

    Docker finishes on its own what the killed run had asked of it; that is not the later run's doing.
    """
    deadline = time.monotonic() + limit
    last, since = snapshot(stack), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(1)
        now = snapshot(stack)
        if now != last:
            last, since = now, time.monotonic()
        elif now is not None and time.monotonic() - since >= quiet:
            return now
    raise AssertionError("the containers kept changing for %d s after the run was killed" % limit)


def snapshot(stack) -> dict | None:
    """stack.containers(), or None while a container goes away between `docker ps` and `docker inspect`."""
    try:
        return stack.containers()
    except subprocess.CalledProcessError:
        return None


def unchanged(stack, before: dict) -> bool:
    return snapshot(stack) == before


@pytest.fixture(scope="module")
def killed(stack):
    """Procedure A from v1.2.4 to v1.2.3, killed once it reached the staged restart: (pid, output)."""
    stack.seed("v1.2.3")
    stack.seed("v1.2.4", result="failed")

    on_v124 = stack.containers()
    proc = stack.start_playbook("procedure_a", version="v1.2.3")
    lines: list[str] = []
    reached = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if REACHED_RESTART in line:
                reached.set()
        reached.set()  # the run ended without reaching it; the assertion below says so

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        reached.wait(timeout=600)
        assert any(REACHED_RESTART in line for line in lines), "".join(lines[-80:])
        assert not any(line.startswith("fatal:") for line in lines), "it failed before the restart:\n" + "".join(lines)
        # Kill it in the middle of the restart: once a first container is replaced (or after a while).
        deadline = time.monotonic() + 60
        while proc.poll() is None and unchanged(stack, on_v124) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert proc.poll() is None, "the run ended before it could be killed:\n" + "".join(lines[-80:])
        kill_run(proc.pid)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    print("".join(lines[-30:]))
    return proc.pid, "".join(lines)


def test_killed_run_leaves_its_lock_naming_the_playbook_process(stack, killed):
    pid, _output = killed
    lock = json.loads((stack.state_dir / "lock").read_text())
    assert lock["pid"] == pid, "the lock must name the ansible-playbook process, not a module's"
    assert lock["host"] == socket.gethostname()
    assert lock["owner"]["procedure"] == "Procedure A" and lock["owner"]["version"] == "v1.2.3"


def test_run_again_is_refused_as_stale_with_nothing_restarted(stack, killed):
    pid, _output = killed
    lock_before = (stack.state_dir / "lock").read_text()
    before = settled(stack)
    history = stack.history()

    run = stack.playbook("procedure_a", version="v1.2.3")

    assert run.rc != 0
    assert "the lock is stale: the run that took it is gone" in run.output, run.output
    assert f"pid {pid} no longer runs" in run.output
    assert "-e break_lock=true" in run.output
    assert "Procedure A to v1.2.3" in run.output
    assert stack.containers() == before, "the refused run stopped or recreated a container"
    assert (stack.state_dir / "lock").read_text() == lock_before, "nothing is broken without break_lock"
    assert stack.history() == history


@pytest.mark.fault(
    "Procedure A killed in its staged restart, then run again",
    how="SIGKILL to ansible-playbook and every process it started",
    holds="the next run is refused as stale with nothing restarted; with break_lock=true it completes the rollback",
)
def test_run_again_with_break_lock_completes_the_rollback(stack, killed):
    pid, _output = killed
    run = stack.playbook("procedure_a", "-e", "break_lock=true", version="v1.2.3")

    assert run.rc == 0, run.output
    assert "broke the stale lock" in run.output and f"pid {pid}" in run.output
    status, health = stack.get("/health")
    assert (status, health["version"]) == (200, "v1.2.3")
    last = stack.history()[-1]
    assert (last["version"], last["action"], last["result"]) == ("v1.2.3", "rollback", "verified")
    assert not (stack.state_dir / "lock").exists(), "the run releases the lock it took"
    builds = stack.state_dir / "builds"
    assert not builds.exists() or not any(builds.iterdir()), "release exports were left behind"
