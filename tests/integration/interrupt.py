"""Killing a run as a crash of the controller would, at the moment a test chooses."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


def process_tree(root: int) -> list[int]:
    """root and every process descending from it, read from /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def kill_run(pid: int) -> None:
    """SIGKILL the whole run, as a crash of the controller would.

    The process group of ansible-playbook is not enough: Ansible forks each worker into a session of
    its own, and a worker outlives its parent until its task ends. So the tree is frozen first
    (nothing forks while stopped), then every process of it is killed.
    """
    seen: list[int] = []
    while True:
        tree = process_tree(pid)
        if tree == seen:
            break
        for each in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(each, signal.SIGSTOP)
        seen = tree
    os.killpg(pid, signal.SIGKILL)
    for each in seen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)


@dataclass
class Interrupted:
    output: str
    killed: bool
    rc: int | None


def run_until(stack, name: str, when: Callable[[str], bool], timeout: float = 600, wrap=(),
              act: Callable[[int], None] | None = None, **extra_vars) -> Interrupted:  # fmt: skip
    """Run playbook `name` on `stack` and kill it (kill_run) as soon as `when(output so far)` is true.

    `when` is asked every 0.2 s, so it may also look at the stack itself (a database that now exists).
    With `act`, act(pid of the run) is done at that moment instead of the kill, and the run goes on to
    its end (a fault caused from outside: a full disk, a paused server). A run that ends before `when`
    is not killed (killed=False)."""
    proc = stack.start_playbook(name, wrap=wrap, **extra_vars)
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    killed = False
    deadline = time.monotonic() + timeout
    try:
        acted = False
        while proc.poll() is None and time.monotonic() < deadline:
            if not acted and when("".join(lines)):
                if act is None:
                    kill_run(proc.pid)
                    killed = True
                    break
                act(proc.pid)
                acted = True
            time.sleep(0.2)
        else:
            if proc.poll() is None:
                raise AssertionError("%s neither ended nor reached its kill point in %d s:\n%s"
                                     % (name, timeout, "".join(lines[-60:])))  # fmt: skip
    finally:
        if proc.poll() is None and not killed:
            kill_run(proc.pid)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    return Interrupted("".join(lines), killed, None if killed else proc.returncode)
