from __future__ import annotations

import datetime
import hashlib
import json
import os
import socket
import subprocess

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.lock import (
    ALIVE,
    AWX_UNKNOWN,
    RECENT,
    STALE,
    UNKNOWN,
    UNREADABLE,
    LockError,
    awx_identity,
    broken_warning,
    command_of,
    create_lock,
    ensure_lock,
    forked_survivors,
    held_message,
    judge_holder,
    lock_document,
    may_break,
    parse_lock,
    process_start,
    remove_if_unchanged,
    run_process,
)

NOW = "2026-11-28T10:00:00Z"
OWNER = {"procedure": "rollback", "version": "v1.2.3", "user": "alice"}


def write_lock(path, run_id="run-other", owner=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(lock_document(run_id, owner or OWNER, "app-01", 99, NOW)))


@pytest.mark.parametrize(
    "owner, expected",
    [
        (OWNER, "another deploy or rollback holds the lock /l: rollback to v1.2.3 by alice on app-01, pid 1, since "
                "2026-11-28T10:00:00Z (run r1); wait for it to finish, or break the lock with -e break_lock=true "
                "if that run is dead"),
        ({"user": "bob"}, "holds the lock /l: by bob on app-01, pid 1, since"),
        ({"procedure": "deploy", "version": "v2.0.0"}, "holds the lock /l: deploy to v2.0.0 on app-01, pid 1, since"),
        ({}, "holds the lock /l: a run on app-01, pid 1, since"),
    ],
)
def test_held_message(owner, expected):
    msg = held_message("/l", lock_document("r1", owner, "app-01", 1, NOW))
    assert expected in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    "text, error",
    [
        ("", "is empty"),
        ("   \n", "is empty"),
        ("{not json", "is corrupt (not JSON)"),
        ("[]", "is corrupt (no run_id)"),
        ('{"owner": {}}', "is corrupt (no run_id)"),
        ('{"run_id": ""}', "is corrupt (no run_id)"),
    ],
)
def test_parse_lock_refuses_to_guess(text, error):
    with pytest.raises(LockError) as exc:
        parse_lock(text, "/l")
    assert error in str(exc.value)


def test_acquire_creates_document(tmp_path):
    path = tmp_path / "state" / "lock.json"
    res = ensure_lock(str(path), "present", "run-1", OWNER, host="h", pid=7, now=NOW)
    assert res["changed"] is True and res["acquired"] is True
    data = json.loads(path.read_text())
    assert data == {"run_id": "run-1", "owner": OWNER, "host": "h", "pid": 7, "acquired_at": NOW}
    assert res["holder"] == data
    # No temp files left next to the lock.
    assert os.listdir(path.parent) == ["lock.json"]


def test_acquire_same_run_is_noop(tmp_path):
    path = tmp_path / "lock.json"
    ensure_lock(str(path), "present", "run-1", OWNER, now=NOW)
    before = path.read_text()
    res = ensure_lock(str(path), "present", "run-1", {"other": "owner"})
    assert res["changed"] is False and res["acquired"] is True
    assert path.read_text() == before


def test_acquire_held_by_other_fails_with_holder(tmp_path):
    path = tmp_path / "lock.json"
    write_lock(path)
    with pytest.raises(LockError) as exc:
        ensure_lock(str(path), "present", "run-1", OWNER)
    assert str(exc.value).startswith("another deploy or rollback holds the lock %s: rollback to v1.2.3 by alice" % path)
    assert exc.value.holder["run_id"] == "run-other"


@pytest.mark.parametrize("content", ["", "garbage"])
def test_acquire_corrupt_fails(tmp_path, content):
    path = tmp_path / "lock.json"
    path.write_text(content)
    with pytest.raises(LockError, match="cannot tell who holds it") as exc:
        ensure_lock(str(path), "present", "run-1", OWNER)
    assert path.read_text() == content
    assert exc.value.unreadable is True and exc.value.holder is None
    assert exc.value.fingerprint == hashlib.sha256(content.encode()).hexdigest()
    assert str(exc.value).endswith("or break it with -e break_lock=true")


def test_acquire_check_mode_does_not_write(tmp_path):
    path = tmp_path / "sub" / "lock.json"
    res = ensure_lock(str(path), "present", "run-1", OWNER, check_mode=True)
    assert res["changed"] is True and res["acquired"] is True
    assert not path.exists()


def test_create_lock_is_exclusive(tmp_path):
    path = tmp_path / "lock.json"
    assert create_lock(str(path), lock_document("a", {}, "h", 1, NOW)) is True
    assert create_lock(str(path), lock_document("b", {}, "h", 1, NOW)) is False
    assert json.loads(path.read_text())["run_id"] == "a"


@pytest.mark.parametrize(
    "existing, run_id, pid, changed, remains, warns",
    [
        (None, "run-1", 99, False, False, False),
        ("run-1", "run-1", 99, True, False, False),
        ("run-other", "run-1", 99, False, True, True),
        ("run-1", "run-1", 98, False, True, True),
        ("<corrupt>", "run-1", 99, False, True, True),
    ],
    ids=["missing", "ours", "other run", "our run id from another process", "corrupt"],
)
def test_release(tmp_path, existing, run_id, pid, changed, remains, warns):
    path = tmp_path / "lock.json"
    if existing == "<corrupt>":
        path.write_text("{")
    elif existing:
        write_lock(path, existing)
    res = ensure_lock(str(path), "absent", run_id, host="app-01", pid=pid)
    assert res["changed"] is changed
    assert res["acquired"] is False
    assert path.exists() is remains
    assert bool(res["warnings"]) is warns
    if existing == "run-other":
        assert res["holder"]["run_id"] == "run-other"
        assert "(run run-other), not by this run; left in place" in res["warnings"][0]


@pytest.mark.parametrize("theirs, mine", [
    ({"host": "app-01", "pid": 99}, {"host": "app-01", "pid": 98}),
    ({"host": "app-01", "pid": 99}, {"host": "app-02", "pid": 99}),
    ({"host": "ee-1", "pid": 7, "awx_job": "41"}, {"host": "ee-1", "pid": 7, "awx_job": "42"}),
    ({"host": "ee-1", "pid": 7, "awx_job": "41"}, {"host": "ee-1", "pid": 7}),
])  # fmt: skip
def test_a_run_id_alone_never_makes_a_run_the_owner(tmp_path, theirs, mine):
    # -e rollback_run_id=<the holder's> on the command line, or an AWX job id as an extra var: not the owner.
    path = tmp_path / "lock.json"
    ensure_lock(str(path), "present", "run-1", OWNER, now=NOW, **theirs)
    with pytest.raises(LockError, match="another deploy or rollback holds the lock"):
        ensure_lock(str(path), "present", "run-1", OWNER, **mine)
    res = ensure_lock(str(path), "absent", "run-1", **mine)
    assert res["changed"] is False and path.exists() and "not by this run" in res["warnings"][0]
    assert ensure_lock(str(path), "present", "run-1", OWNER, **theirs)["acquired"] is True


def test_release_check_mode_keeps_file(tmp_path):
    path = tmp_path / "lock.json"
    write_lock(path, "run-1")
    res = ensure_lock(str(path), "absent", "run-1", check_mode=True, host="app-01", pid=99)
    assert res["changed"] is True and path.exists()


@pytest.mark.parametrize("run_id, state", [("", "present"), ("  ", "absent"), ("r", "locked")])
def test_bad_arguments(tmp_path, run_id, state):
    with pytest.raises(LockError):
        ensure_lock(str(tmp_path / "l"), state, run_id)


# --- Whose lock is it, and is that run alive? -------------------------------------------------

HERE = "ctl-01"
STARTED = "boot-1:5000"


def holder_on(host=HERE, pid=4242, started=STARTED, acquired_at=NOW):
    document = lock_document("r-old", {"procedure": "Procedure A", "version": "v1.2.3", "user": "bob"}, host, pid,
                             acquired_at, started)
    return document


def probe_of(processes):
    return processes.get


@pytest.mark.parametrize(
    "holder, processes, status, reason",
    [
        (holder_on(), {4242: STARTED}, ALIVE, "pid 4242 still runs on ctl-01"),
        # A lock written before start times were recorded: the pid alone decides.
        (holder_on(started=None), {4242: STARTED}, ALIVE, "pid 4242 still runs on ctl-01"),
        # Without /proc the start time is unknown: an existing pid counts as alive.
        (holder_on(), {4242: ""}, ALIVE, "still runs"),
        (holder_on(), {}, STALE, "pid 4242 no longer runs on ctl-01"),
        (holder_on(), {4242: "boot-1:9999"}, STALE, "pid 4242 on ctl-01 belongs to another process now"),
        # The same pid and ticks after a reboot are another process too.
        (holder_on(), {4242: "boot-2:5000"}, STALE, "belongs to another process now"),
        (holder_on(host="ctl-02"), {4242: STARTED}, UNKNOWN, "taken on ctl-02, not on this controller (ctl-01)"),
        (holder_on(host=None), {}, UNKNOWN, "taken on an unknown host"),
        (holder_on(pid=None), {}, UNKNOWN, "names no process on ctl-01"),
        (holder_on(pid="4242"), {4242: STARTED}, UNKNOWN, "names no process"),
        (None, {}, UNREADABLE, "cannot be read"),
    ],
    ids=["alive", "alive-old-lock", "alive-no-proc", "dead-pid", "reused-pid", "rebooted", "other-host",
         "no-host", "no-pid", "pid-not-int", "corrupt"],
)
def test_judge_holder(holder, processes, status, reason):
    got = judge_holder(holder, HERE, probe_of(processes))
    assert got[0] == status
    assert reason in got[1]
    assert may_break(status) is (status != ALIVE)


@pytest.mark.parametrize(
    "processes, survivors, status, reason",
    [
        ({}, [4300], ALIVE, "pid 4242 is gone, but pid 4300 forked from it still runs its last task on ctl-01"),
        ({4242: "boot-1:1"}, [4300, 4301], ALIVE, "but pid 4300, 4301 forked from it still run its last task"),
        ({}, [], STALE, "pid 4242 no longer runs on ctl-01"),
    ],
    ids=["killed-worker-finishing", "reused-pid-workers", "all-gone"],
)
def test_judge_holder_counts_the_workers_of_a_killed_playbook(processes, survivors, status, reason):
    got = judge_holder(holder_on(), HERE, probe_of(processes), survivors=lambda holder: survivors)
    assert got[0] == status and reason in got[1]


@pytest.mark.parametrize(
    "processes, host, break_requested, expected",
    [
        ({4242: STARTED}, HERE, False,
         "; that run is still alive (pid 4242 still runs on ctl-01); wait for it to finish"),
        ({4242: STARTED}, HERE, True, "wait for it to finish; a live run's lock is never broken, not even with "
                                      "-e break_lock=true"),
        ({}, HERE, False, "; the lock is stale: the run that took it is gone (pid 4242 no longer runs on ctl-01); "
                          "break it with -e break_lock=true"),
        ({4242: "boot-1:1"}, HERE, False, "the lock is stale: the run that took it is gone (pid 4242 on ctl-01 "
                                          "belongs to another process now); break it with -e break_lock=true"),
        ({}, "ctl-09", False, "; it was taken on ctl-01, not on this controller (ctl-09), so nobody here can tell "
                              "whether that run is alive: make sure that run is not running, then break the lock "
                              "with -e break_lock=true"),
    ],
    ids=["alive", "alive-break-refused", "stale", "reused-pid", "other-host"],
)
def test_held_message_says_whether_the_holder_lives(processes, host, break_requested, expected):
    holder = holder_on()
    msg = held_message("/l", holder, judge_holder(holder, host, probe_of(processes)), break_requested)
    assert msg.startswith("another deploy or rollback holds the lock /l: Procedure A to v1.2.3 by bob on ctl-01, "
                          "pid 4242, since 2026-11-28T10:00:00Z (run r-old); ")
    assert msg.endswith(expected)
    assert "\n" not in msg


@pytest.mark.parametrize(
    "holder, liveness, expected",
    [
        (holder_on(), (STALE, "pid 4242 no longer runs on ctl-01"),
         "broke the stale lock /l of Procedure A to v1.2.3 by bob on ctl-01, pid 4242, since 2026-11-28T10:00:00Z "
         "(run r-old) (pid 4242 no longer runs on ctl-01) as asked with -e break_lock=true"),
        (holder_on(host="ctl-02"), (UNKNOWN, "taken on ctl-02"),
         "broke the lock /l of Procedure A to v1.2.3 by bob on ctl-02"),
        (None, (UNREADABLE, "the lock file cannot be read"), "broke the unreadable lock /l (the lock file cannot"),
    ],
)
def test_broken_warning_names_the_holder(holder, liveness, expected):
    assert broken_warning("/l", holder, liveness).startswith(expected)


def fp(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("content", ["<lock>", "", "{not json"], ids=["other run", "empty", "corrupt"])
def test_break_takes_the_judged_lock(tmp_path, content):
    path = tmp_path / "lock.json"
    if content == "<lock>":
        write_lock(path)
    else:
        path.write_text(content)
    res = ensure_lock(str(path), "present", "run-1", OWNER, host="h", pid=7, now=NOW, started="b:1",
                      break_fingerprint=fp(path))
    assert res["changed"] is True and res["acquired"] is True and res["broken"] is True
    assert (res["broken_holder"] or {}).get("run_id") == ("run-other" if content == "<lock>" else None)
    assert json.loads(path.read_text())["run_id"] == "run-1"
    assert json.loads(path.read_text())["started"] == "b:1"
    assert os.listdir(path.parent) == ["lock.json"]


def test_break_refuses_a_lock_that_changed_since_it_was_judged(tmp_path):
    path = tmp_path / "lock.json"
    write_lock(path, "run-old")
    judged = fp(path)
    write_lock(path, "run-new")
    with pytest.raises(LockError, match="changed after it was judged, so nothing was broken") as exc:
        ensure_lock(str(path), "present", "run-1", OWNER, break_fingerprint=judged)
    assert exc.value.holder["run_id"] == "run-new"
    assert json.loads(path.read_text())["run_id"] == "run-new"


def test_without_break_nothing_is_broken(tmp_path):
    path = tmp_path / "lock.json"
    write_lock(path)
    with pytest.raises(LockError) as exc:
        ensure_lock(str(path), "present", "run-1", OWNER)
    assert exc.value.fingerprint == fp(path) and exc.value.unreadable is False
    assert json.loads(path.read_text())["run_id"] == "run-other"


def test_break_in_check_mode_keeps_the_file(tmp_path):
    path = tmp_path / "lock.json"
    write_lock(path)
    res = ensure_lock(str(path), "present", "run-1", OWNER, check_mode=True, break_fingerprint=fp(path))
    assert res["broken"] is True and res["changed"] is True
    assert json.loads(path.read_text())["run_id"] == "run-other"


def test_remove_if_unchanged_puts_back_a_newer_lock(tmp_path):
    path = tmp_path / "lock.json"
    write_lock(path, "run-newer")
    assert remove_if_unchanged(str(path), "0" * 64) is False
    assert json.loads(path.read_text())["run_id"] == "run-newer"
    assert os.listdir(tmp_path) == ["lock.json"]
    assert remove_if_unchanged(str(path), fp(path)) is True
    assert os.listdir(tmp_path) == []


# --- Processes, read from a /proc tree ------------------------------------------------------------

def fake_proc(tmp_path, processes, boot="boot-1"):
    """processes: pid -> (comm, state, ppid, starttime, cmdline)."""
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "sys" / "kernel" / "random").mkdir(parents=True)
    (proc / "sys" / "kernel" / "random" / "boot_id").write_text(boot + "\n")
    for pid, (comm, state, ppid, start, cmdline) in processes.items():
        (proc / str(pid)).mkdir()
        rest = [state, str(ppid)] + ["0"] * 17 + [str(start)] + ["0"] * 10
        (proc / str(pid) / "stat").write_text("%d (%s) %s\n" % (pid, comm, " ".join(rest)))
        (proc / str(pid) / "cmdline").write_bytes(cmdline)
    return str(proc)


PLAYBOOK = b"python3\0/venv/bin/ansible-playbook\0site.yml\0"


@pytest.mark.parametrize(
    "pid, expected",
    [
        (300, "boot-1:7000"),
        (301, "boot-1:7100"),  # a command name with spaces and parentheses
        (302, None),  # a zombie: its run is over
        (999, None),
        (0, None),
        (-1, None),
        (True, None),
    ],
)
def test_process_start(tmp_path, pid, expected):
    proc = fake_proc(tmp_path, {
        300: ("ansible-playboo", "S", 1, 7000, PLAYBOOK),
        301: ("odd) (name", "R", 1, 7100, b"x\0"),
        302: ("ansible-playboo", "Z", 1, 7200, b""),
    })
    assert process_start(pid, proc) == expected


def test_run_process_is_the_playbook_above_its_forked_workers(tmp_path):
    proc = fake_proc(tmp_path, {
        100: ("bash", "S", 1, 10, b"bash\0"),
        200: ("ansible-playboo", "S", 100, 20, PLAYBOOK),
        201: ("ansible-playboo", "S", 200, 30, PLAYBOOK),
        300: ("python3", "S", 201, 40, b"python3\0/tmp/AnsiballZ_lock.py\0"),
    })
    assert run_process(201, proc) == 200
    assert run_process(200, proc) == 200
    assert run_process(300, proc) == 300


def test_forked_survivors_are_the_killed_runs_workers_only(tmp_path):
    other = b"python3\0/venv/bin/ansible-playbook\0other.yml\0"
    proc = fake_proc(tmp_path, {
        # The killed run was pid 200 (started at 20): its worker 201 was reparented to 1.
        201: ("ansible-playboo", "S", 1, 30, PLAYBOOK),
        # This run (500), the same command again, and its own worker.
        500: ("ansible-playboo", "S", 100, 90, PLAYBOOK),
        501: ("ansible-playboo", "S", 500, 91, PLAYBOOK),
        # The same command started before the killed run: not one of its workers.
        150: ("ansible-playboo", "S", 1, 10, PLAYBOOK),
        # Another playbook, and a zombie worker.
        300: ("ansible-playboo", "S", 1, 40, other),
        301: ("ansible-playboo", "Z", 1, 41, PLAYBOOK),
    })
    holder = lock_document("r-old", OWNER, HERE, 200, NOW, "boot-1:20", command_of(500, proc))
    assert forked_survivors(holder, 500, proc) == [201]
    assert forked_survivors(dict(holder, started="boot-0:20"), 500, proc) == []
    assert forked_survivors({k: v for k, v in holder.items() if k != "command"}, 500, proc) == []


def test_process_start_of_real_processes():
    mine = process_start(os.getpid())
    assert mine and mine == process_start(os.getpid())
    child = subprocess.Popen(["true"])
    child.wait()
    assert process_start(child.pid) is None


@pytest.mark.functional
def test_module_lifecycle(tmp_path, ansible_module):
    path = str(tmp_path / "locks" / "app.lock")
    res = ansible_module("lock", {"path": path, "run_id": "r1", "owner": OWNER}, check=True)
    assert res["changed"] is True and not os.path.exists(path)
    res = ansible_module("lock", {"path": path, "run_id": "r1", "owner": OWNER})
    assert res["changed"] is True and res["acquired"] is True
    # The lock names the controller's ansible process, not the module's: that run is over now.
    holder = res["holder"]
    assert holder["host"] == socket.gethostname() and holder["started"]
    assert process_start(holder["pid"]) is None
    # The same run id from another process is not that run: refused, never taken over.
    res = ansible_module("lock", {"path": path, "run_id": "r1"})
    assert res["failed"] is True and res["liveness"] == "stale"
    res = ansible_module("lock", {"path": path, "run_id": "r2", "owner": {"procedure": "deploy"}})
    assert res["failed"] is True and res["liveness"] == "stale"
    assert res["msg"].startswith(
        "another deploy or rollback holds the lock %s: rollback to v1.2.3 by alice on %s, pid %d, since"
        % (path, holder["host"], holder["pid"]))
    assert "the lock is stale: the run that took it is gone (pid %d no longer runs" % holder["pid"] in res["msg"]
    for run_id in ("r2", "r1"):
        res = ansible_module("lock", {"path": path, "run_id": run_id, "state": "absent"})
        assert res["changed"] is False and os.path.exists(path) and res["warnings"]


@pytest.mark.functional
@pytest.mark.parametrize("mark", ['{"incident": "inc-7", "at": "2026-12-01T10:00:00Z"}', "not json"])
def test_module_refuses_the_lock_while_the_stack_is_shut_down(tmp_path, ansible_module, mark):
    path, shutdown = tmp_path / "state" / "lock", tmp_path / "state" / "shutdown.json"
    args = {"path": str(path), "run_id": "r1", "shutdown_mark": str(shutdown), "stack": "shop"}
    res = ansible_module("lock", args)
    assert res["acquired"] is True and path.exists()
    # A new state directory is its owner's and group's only: it holds backups and incident records.
    assert path.parent.stat().st_mode & 0o777 == 0o750
    path.unlink()  # that run is over (another process could not release it: run r1 is not its own)
    shutdown.write_text(mark)
    res = ansible_module("lock", dict(args, run_id="r2"))
    since = "inc-7, since 2026-12-01T10:00:00Z" if mark.startswith("{") else "?, since ?"
    assert res["failed"] is True and res["acquired"] is False and not path.exists()
    assert res["msg"] == (
        f"Procedure D shut shop down ({since}); nothing is started until the shutdown is cleared deliberately: "
        "ansible-playbook playbooks/procedure_d.yml -e clear=true"
    )
    # Releasing is never refused: an `always` section must be able to give the lock back.
    assert not ansible_module("lock", dict(args, run_id="r2", state="absent")).get("failed")


@pytest.mark.functional
@pytest.mark.parametrize(
    "holder, broken",
    [
        ("alive", False),
        ("other host", True),
        ("corrupt", True),
    ],
)
def test_module_break_lock(tmp_path, ansible_module, holder, broken):
    path = tmp_path / "lock"
    if holder == "corrupt":
        path.write_text("{")
    else:
        # This test's own process stands for a live run on this controller.
        host = socket.gethostname() if holder == "alive" else "elsewhere"
        path.write_text(json.dumps(lock_document("r-old", OWNER, host, os.getpid(), NOW, process_start(os.getpid()))))
    before = path.read_text()
    res = ansible_module("lock", {"path": str(path), "run_id": "r-new", "break_lock": True})
    assert bool(res.get("failed")) is not broken
    assert res.get("broken", False) is broken
    if broken:
        assert json.loads(path.read_text())["run_id"] == "r-new"
        assert any("broke the" in w and "as asked with -e break_lock=true" in w for w in res["warnings"]), res
    else:
        assert path.read_text() == before
        assert "that run is still alive" in res["msg"] and "never broken" in res["msg"]


def test_a_recent_lock_of_another_controller_is_not_broken_an_old_one_is():
    now = datetime.datetime(2026, 12, 1, 12, 0, 0)
    recent = holder_on(host="awx-ee-7f9c", acquired_at="2026-12-01T11:50:00Z")
    status, reason = judge_holder(recent, HERE, probe_of({}), foreign_grace=3600, now=now)
    assert status == RECENT and not may_break(status)
    assert "taken on awx-ee-7f9c 10 min ago, not on this controller (ctl-01)" in reason
    assert "broken only once 60 min old" in reason
    msg = held_message("/l", recent, (status, reason), True)
    assert "remove /l by hand once sure that run is over" in msg and "\n" not in msg
    old = holder_on(host="awx-ee-7f9c", acquired_at="2026-12-01T10:30:00Z")
    assert judge_holder(old, HERE, probe_of({}), foreign_grace=3600, now=now)[0] == UNKNOWN
    # No grace: as before, another controller's lock may be broken when asked.
    assert judge_holder(recent, HERE, probe_of({}), foreign_grace=0, now=now)[0] == UNKNOWN
    unreadable_time = holder_on(host="awx-ee-7f9c", acquired_at="yesterday")
    assert judge_holder(unreadable_time, HERE, probe_of({}), foreign_grace=3600, now=now)[0] == RECENT


def test_an_awx_job_is_named_by_the_environment_awx_gives_it_only():
    assert awx_identity({"JOB_ID": "41", "AWX_HOST": "https://awx.example/"}) == ("41", "https://awx.example")
    assert awx_identity({"JOB_ID": "41"}) == ("41", None)
    assert awx_identity({}) == (None, None)
    assert awx_identity({"JOB_ID": "41; rm -rf /"}) == (None, None)


AWX_HOLDER = dict(lock_document("41", OWNER, "automation-job-41-x2", 12, NOW, awx_job="41",
                                awx_host="https://awx.example"))  # fmt: skip


@pytest.mark.parametrize("said, status, reason", [
    (("running", None), "alive", "AWX job 41 of https://awx.example is running, AWX says"),
    (("pending", None), "alive", "is pending, AWX says"),
    (("canceled", None), "stale", "AWX job 41 of https://awx.example is over (canceled), AWX says"),
    (("never-heard-of", None), AWX_UNKNOWN, "AWX said 'never-heard-of'"),
    ((None, "asking https://awx.example/api/v2/jobs/41/ failed: timed out"), AWX_UNKNOWN,
     "whether AWX job 41 of https://awx.example still runs is not known (asking https://awx.example/api/v2/jobs/41/"
     " failed: timed out); the lock of an AWX job is broken only once AWX says the job is over"),
])  # fmt: skip
def test_an_awx_jobs_lock_is_judged_by_what_awx_says_not_by_host_or_pid(said, status, reason):
    # Same host name and a live pid here: neither counts for a job that ran in a container of its own.
    judged = judge_holder(dict(AWX_HOLDER, host=socket.gethostname(), pid=os.getpid()), socket.gethostname(),
                          foreign_grace=0, awx_status=lambda holder: said)  # fmt: skip
    assert judged[0] == status and reason in judged[1]
    assert may_break(judged[0]) is (status == "stale")


def test_an_awx_jobs_lock_is_never_broken_without_awx_to_ask():
    judged = judge_holder(AWX_HOLDER, "automation-job-42-aa", foreign_grace=0)
    assert judged[0] == AWX_UNKNOWN and not may_break(judged[0])
    message = held_message("/l", AWX_HOLDER, judged, break_requested=True)
    assert message.startswith("another deploy or rollback holds the lock /l: rollback to v1.2.3 by alice in AWX job 41 "
                              "of https://awx.example, on automation-job-41-x2, pid 12, since")  # fmt: skip
    assert message.endswith("or remove the lock by hand once the job is over")
