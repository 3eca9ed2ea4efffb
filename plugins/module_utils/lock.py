# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy/rollback lock file: one JSON document naming the run that holds it."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import socket
import tempfile

PRESENT, ABSENT = "present", "absent"

# What the controller can tell about the run named in a lock.
ALIVE = "alive"  # its process still runs on this controller: never broken
STALE = "stale"  # taken on this controller, and that process is gone (or the pid is another process now)
UNKNOWN = "unknown"  # taken on another controller, or with no pid: nobody here can tell
RECENT = "recent"  # taken on another controller within the grace: may well be running; not broken
UNREADABLE = "unreadable"  # empty or corrupt lock file: nobody can tell who holds it
AWX_UNKNOWN = "awx_unknown"  # taken by an AWX job whose state AWX was not asked or did not tell: not broken

# The states of an AWX job (its API's `status`): still going, or over.
AWX_GOING = ("new", "pending", "waiting", "running")
AWX_OVER = ("successful", "failed", "error", "canceled")

BREAK_HINT = "-e break_lock=true"


class LockError(Exception):
    """Raised with the one-line message the module fails with.

    .holder is the parsed lock or None; .fingerprint identifies the lock file's exact content (so
    that only the lock that was judged can be broken); .unreadable says the file could not be parsed.
    """

    def __init__(self, msg, holder=None, fingerprint=None, unreadable=False):
        super().__init__(msg)
        self.holder = holder
        self.fingerprint = fingerprint
        self.unreadable = unreadable


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_lock(text, path):
    # An unreadable lock is never treated as free or as ours: guessing wrong either runs two
    # rollbacks at once or blocks on-call forever, so a human decides.
    if not text.strip():
        raise LockError("lock file %s is empty; cannot tell who holds it: delete it if no deploy or rollback "
                        "is running" % path)
    try:
        data = json.loads(text)
    except ValueError:
        raise LockError("lock file %s is corrupt (not JSON); cannot tell who holds it: delete it if no deploy "
                        "or rollback is running" % path) from None
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str) or not data["run_id"]:
        raise LockError("lock file %s is corrupt (no run_id); cannot tell who holds it: delete it if no deploy "
                        "or rollback is running" % path)
    if not isinstance(data.get("owner"), dict):
        data["owner"] = {}
    return data


def read_raw(path):
    """The lock file's bytes, or None when there is none."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LockError("cannot read lock file %s: %s" % (path, exc.strerror or exc)) from None


def fingerprint(raw):
    return hashlib.sha256(raw).hexdigest()


def read_lock(path):
    """The parsed lock, or None when there is none; raises LockError when it cannot be read."""
    raw = read_raw(path)
    if raw is None:
        return None
    return parse_lock(raw.decode("utf-8", errors="replace"), path)


def describe_holder(holder):
    """'Procedure A to v1.2.3 by alice on ctl-01, pid 4242, since <time> (run <id>)'."""
    owner = holder.get("owner") or {}
    parts = []
    if owner.get("procedure"):
        parts.append(str(owner["procedure"]))
    if owner.get("version"):
        parts.append("to %s" % owner["version"])
    if owner.get("user"):
        parts.append("by %s" % owner["user"])
    who = " ".join(parts) or "a run"
    where = []
    if holder.get("awx_job"):
        where.append("in AWX job %s%s" % (holder["awx_job"],
                                          " of " + holder["awx_host"] if holder.get("awx_host") else ""))  # fmt: skip
    if holder.get("host"):
        where.append("on %s" % holder["host"])
    if holder.get("pid") is not None:
        where.append("pid %s" % holder["pid"])
    since = holder.get("acquired_at") or "an unknown time"
    where_text = " " + ", ".join(where) + "," if where else ""
    return "%s%s since %s (run %s)" % (who, where_text, since, holder.get("run_id"))


def held_message(path, holder, liveness=None, break_requested=False):
    """The one line a run that finds the lock held fails with.

    liveness is (status, reason) from judge_holder(); without it (the module alone, on the target)
    the message cannot say whether the holder is alive.
    """
    head = "another deploy or rollback holds the lock %s: %s" % (path, describe_holder(holder))
    if liveness is None:
        return head + "; wait for it to finish, or break the lock with %s if that run is dead" % BREAK_HINT
    status, reason = liveness
    if status == ALIVE:
        tail = "that run is still alive (%s); wait for it to finish" % reason
        if break_requested:
            tail += "; a live run's lock is never broken, not even with %s" % BREAK_HINT
        return "%s; %s" % (head, tail)
    if status == STALE:
        return "%s; the lock is stale: the run that took it is gone (%s); break it with %s" % (
            head, reason, BREAK_HINT)
    if status == RECENT:
        return "%s; %s; wait for it, or remove %s by hand once sure that run is over" % (head, reason, path)
    if status == AWX_UNKNOWN:
        return "%s; %s" % (head, reason)
    return "%s; %s: make sure that run is not running, then break the lock with %s" % (head, reason, BREAK_HINT)


def unreadable_message(error_msg):
    """The parse error of an empty or corrupt lock, with how to break it."""
    return "%s, or break it with %s" % (error_msg, BREAK_HINT)


def broken_warning(path, holder, liveness):
    status, reason = liveness
    if holder is None:
        return "broke the unreadable lock %s (%s) as asked with %s" % (path, reason, BREAK_HINT)
    return "broke the %slock %s of %s (%s) as asked with %s" % (
        "stale " if status == STALE else "", path, describe_holder(holder), reason, BREAK_HINT)


def process_start(pid, proc="/proc"):
    """What identifies process pid among all processes this machine has run.

    None when no such process runs (a zombie counts as gone: its run is over); the boot id and the
    start time in clock ticks since boot when /proc tells them (so a pid reused after the holder
    died, or after a reboot, is told apart); "" when the process exists but /proc is not there.
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    if os.path.isdir(os.path.join(proc, "self")):
        try:
            with open(os.path.join(proc, str(pid), "stat"), encoding="utf-8", errors="replace") as f:
                stat = f.read()
        except OSError:
            return None
        # The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
            return None
        try:
            with open(os.path.join(proc, "sys", "kernel", "random", "boot_id"), encoding="utf-8") as f:
                boot = f.read().strip()
        except OSError:
            boot = ""
        return "%s:%s" % (boot, fields[19])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return ""


def _cmdline(pid, proc="/proc"):
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as f:
            return f.read()
    except OSError:
        return None


def _parent(pid, proc="/proc"):
    try:
        with open(os.path.join(proc, str(pid), "stat"), encoding="utf-8", errors="replace") as f:
            stat = f.read()
        return int(stat[stat.rfind(")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def run_process(pid=None, proc="/proc"):
    """The process that stands for this run: pid itself, or its topmost ancestor with the same command line.

    Ansible runs plugins in worker processes forked from ansible-playbook (same command line, short
    lived); the run is alive exactly as long as the ansible-playbook process they were forked from.
    """
    pid = os.getpid() if pid is None else pid
    own = _cmdline(pid, proc)
    if own is None:
        # No /proc: Ansible's workers are direct children of the main process.
        return os.getppid() if pid == os.getpid() else pid
    while True:
        parent = _parent(pid, proc)
        if not parent or parent <= 1 or _cmdline(parent, proc) != own:
            return pid
        pid = parent


def command_of(pid, proc="/proc"):
    """sha256 of the process's command line (never the line itself: it may carry extra vars)."""
    raw = _cmdline(pid, proc)
    return hashlib.sha256(raw).hexdigest() if raw else None


def awx_identity(environ=None):
    """(job id, AWX URL) of the AWX/Tower job this run is, from the environment AWX gives every job (JOB_ID,
    AWX_HOST), or (None, None). Never from a variable: extra vars and survey answers are the user's to set."""
    environ = os.environ if environ is None else environ
    job = str(environ.get("JOB_ID") or "").strip()
    if not job.isdigit():
        return None, None
    return job, str(environ.get("AWX_HOST") or "").strip().rstrip("/") or None


def run_identity(pid=None, proc="/proc", environ=None):
    """host, pid, started and command of the process that stands for this run (see run_process), and the AWX
    job it is, if any."""
    pid = run_process(pid, proc)
    job, awx = awx_identity(environ)
    return {"host": socket.gethostname(), "pid": pid, "started": process_start(pid, proc),
            "command": command_of(pid, proc), "awx_job": job, "awx_host": awx}


IDENTITY = ("host", "pid", "started", "awx_job")


def same_run(holder, run_id, identity):
    """Whether the lock `holder` is this very run's: the same run id, taken by the same process (host, pid, start
    time) of the same AWX job. A run id alone never makes a run the owner: it can be given on the command line."""
    if holder.get("run_id") != run_id:
        return False
    return all((holder.get(key) or None) == (identity.get(key) or None) for key in IDENTITY)


def _ticks(started):
    boot, _unused, ticks = (started or "").rpartition(":")
    return (boot, int(ticks)) if ticks.isdigit() else (None, None)


def forked_survivors(holder, mine, proc="/proc"):
    """Pids that still run the holder's command, forked from it: workers outliving a killed ansible-playbook.

    Ansible's workers are forked (same command line) into sessions of their own, so killing the
    ansible-playbook process leaves the worker of the task in flight running that task to its end.
    mine is this run's process: it and its own workers run the same command when the same command
    is run again, and are left out.
    """
    boot, since = _ticks(holder.get("started"))
    if not holder.get("command") or since is None or not os.path.isdir(os.path.join(proc, "self")):
        return []
    survivors = []
    for name in os.listdir(proc):
        if not name.isdigit() or int(name) in (mine, holder.get("pid")):
            continue
        pid = int(name)
        if _parent(pid, proc) == mine or command_of(pid, proc) != holder["command"]:
            continue
        their_boot, ticks = _ticks(process_start(pid, proc))
        if their_boot == boot and ticks is not None and ticks >= since:
            survivors.append(pid)
    return sorted(survivors)


def lock_age(holder, now=None):
    """Seconds since the lock was taken, or None when its time cannot be read."""
    try:
        taken = datetime.datetime.strptime(str(holder.get("acquired_at")), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return (now - taken).total_seconds()


def judge_awx_holder(holder, awx_status):
    """(status, reason) of a lock an AWX job took, from what AWX says of that job: awx_status(holder) is
    (status, None) or (None, why AWX could not be asked). Its process ran in a container of its own, so
    neither its host name nor its pid tells anything; only AWX does."""
    job = "AWX job %s%s" % (holder["awx_job"], " of " + holder["awx_host"] if holder.get("awx_host") else "")
    status, problem = awx_status(holder) if awx_status else (None, "no AWX to ask")
    if status in AWX_GOING:
        return ALIVE, "%s is %s, AWX says" % (job, status)
    if status in AWX_OVER:
        return STALE, "%s is over (%s), AWX says" % (job, status)
    return AWX_UNKNOWN, "whether %s still runs is not known (%s); the lock of an AWX job is broken only once AWX " \
                        "says the job is over: give the job template a credential of the type Red Hat Ansible " \
                        "Automation Platform, or remove the lock by hand once the job is over" % (
                            job, problem or "AWX said %r" % status)


def judge_holder(holder, host, probe=process_start, survivors=None, foreign_grace=None, now=None, awx_job=None,
                 awx_status=None):
    """(status, reason): can the run named in the lock still be running? Judged on the controller.

    host is this controller's host name; probe(pid) is process_start() or a stand-in;
    survivors(holder) lists the processes still working for the holder (forked_survivors()).
    A lock taken on another controller less than foreign_grace seconds ago is RECENT: nobody here can
    tell whether its run is alive, and a rollback may well still be running there (another AWX job's
    container, a colleague's laptop), so it is not broken.
    """
    if holder is None:
        return UNREADABLE, "the lock file cannot be read, so nobody can tell whether its run is alive"
    if holder.get("awx_job"):
        if awx_job and str(holder["awx_job"]) == str(awx_job):
            return ALIVE, "it is this AWX job's own (job %s), taken by another of its runs" % awx_job
        return judge_awx_holder(holder, awx_status)
    their_host, pid = holder.get("host"), holder.get("pid")
    if not their_host or their_host != host:
        age = lock_age(holder, now)
        if their_host and foreign_grace and (age is None or age < foreign_grace):
            when = "at an unreadable time" if age is None else "%d min ago" % (max(age, 0) // 60)
            return RECENT, "it was taken on %s %s, not on this controller (%s): that run may still be going, and " \
                           "a lock of another controller is broken only once %d min old" % (
                               their_host, when, host, foreign_grace // 60)
        return UNKNOWN, "it was taken on %s, not on this controller (%s), so nobody here can tell whether that " \
                        "run is alive" % (their_host or "an unknown host", host)
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return UNKNOWN, "it names no process on %s, so nobody can tell whether that run is alive" % host
    now = probe(pid)
    started = holder.get("started")
    if now is not None and not (started and now and now != started):
        return ALIVE, "pid %d still runs on %s" % (pid, host)
    left = survivors(holder) if survivors else []
    if left:
        return ALIVE, "pid %d is gone, but %s forked from it still run%s its last task on %s" % (
            pid, "pid " + ", ".join(str(p) for p in left), "s" if len(left) == 1 else "", host)
    if now is None:
        return STALE, "pid %d no longer runs on %s" % (pid, host)
    return STALE, "pid %d on %s belongs to another process now" % (pid, host)


def may_break(status):
    """A live run's lock is never broken, nor another controller's within its grace, nor an AWX job's that AWX
    does not say is over; every other one may be, when asked explicitly."""
    return status in (STALE, UNKNOWN, UNREADABLE)


def lock_document(run_id, owner, host, pid, acquired_at=None, started=None, command=None, awx_job=None,
                  awx_host=None):
    document = {
        "run_id": run_id,
        "owner": dict(owner or {}),
        "host": host,
        "pid": pid,
        "acquired_at": acquired_at or utc_now(),
    }
    for key, value in (("started", started), ("command", command), ("awx_job", awx_job), ("awx_host", awx_host)):
        if value:
            document[key] = value
    return document


def create_lock(path, document):
    """Create the lock atomically; False if it already exists.

    The content is written to a private temp file (O_CREAT|O_EXCL via mkstemp) and hard-linked
    into place: link() fails if the path exists, and a competing run can never observe a lock
    file that exists but is still empty.
    """
    parent = os.path.dirname(path) or "."
    # The state directory holds backups and incident records: its owner and group only.
    os.makedirs(parent, mode=0o750, exist_ok=True)
    payload = (json.dumps(document, sort_keys=True, default=str) + "\n").encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=parent)
    try:
        os.write(fd, payload)
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:
            # Filesystems without hard links: fall back to the plain exclusive create.
            return _create_exclusive(path, payload)
        return True
    finally:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _create_exclusive(path, payload):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def remove_if_unchanged(path, expected):
    """Remove the lock only if its content is still the one whose fingerprint was judged.

    The file is renamed aside first (atomic), then checked: a lock that another run took in the
    meantime is put back (link() never overwrites a newer one) and left alone.
    """
    aside = "%s.breaking.%d" % (path, os.getpid())
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return True
    try:
        with open(aside, "rb") as f:
            if fingerprint(f.read()) == expected:
                return True
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        return False
    finally:
        os.unlink(aside)


def ensure_lock(path, state, run_id, owner=None, host=None, pid=None, check_mode=False, now=None, started=None,
                break_fingerprint=None, command=None, awx_job=None, awx_host=None):
    """Apply state to the lock. Returns dict(changed, acquired, holder, broken, broken_holder, warnings).

    break_fingerprint: remove the lock held by another run (or an unreadable one) when its content
    still has this fingerprint, then take it. Whether that is allowed is judged on the controller.
    Raises LockError.
    """
    if not isinstance(run_id, str) or not run_id.strip():
        raise LockError("run_id must be a non-empty string")
    if state not in (PRESENT, ABSENT):
        raise LockError("state must be present or absent")
    warnings = []
    identity = {"host": host, "pid": pid, "started": started, "awx_job": awx_job}

    if state == PRESENT:
        broken, broken_holder = False, None
        # Several passes: a competitor can create or replace the lock between our read and our create.
        for _attempt in range(3):
            raw = read_raw(path)
            if raw is not None:
                seen = fingerprint(raw)
                to_break = break_fingerprint is not None and seen == break_fingerprint
                changed_note = "" if break_fingerprint is None or to_break else \
                    " (the lock changed after it was judged, so nothing was broken)"
                try:
                    holder = parse_lock(raw.decode("utf-8", errors="replace"), path)
                except LockError as exc:
                    if not to_break:
                        raise LockError(unreadable_message(str(exc)) + changed_note, None, seen, True) from None
                    holder = None
                else:
                    if same_run(holder, run_id, identity):
                        return {"changed": False, "acquired": True, "holder": holder, "broken": False,
                                "broken_holder": None, "warnings": warnings}
                    if not to_break:
                        raise LockError(held_message(path, holder) + changed_note, holder, seen)
                if not check_mode and not remove_if_unchanged(path, seen):
                    continue
                broken, broken_holder, break_fingerprint = True, holder, None
            document = lock_document(run_id, owner, host, pid, now, started, command, awx_job, awx_host)
            if check_mode or create_lock(path, document):
                return {"changed": True, "acquired": True, "holder": document, "broken": broken,
                        "broken_holder": broken_holder, "warnings": warnings}
        raise LockError("lock file %s keeps appearing and disappearing; another run is racing for it" % path)

    try:
        holder = read_lock(path)
    except LockError as exc:
        # Releasing runs in always/rescue blocks: failing there would hide the real error.
        warnings.append("%s; left in place" % exc)
        return {"changed": False, "acquired": False, "holder": None, "warnings": warnings}
    if holder is None:
        return {"changed": False, "acquired": False, "holder": None, "warnings": warnings}
    if not same_run(holder, run_id, identity):
        warnings.append("lock %s is held by %s, not by this run; left in place" % (path, describe_holder(holder)))
        return {"changed": False, "acquired": False, "holder": holder, "warnings": warnings}
    if not check_mode:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return {"changed": True, "acquired": False, "holder": holder, "warnings": warnings}
