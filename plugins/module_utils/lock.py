# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy/rollback lock file: one JSON document naming the run that holds it."""

from __future__ import annotations

import datetime
import json
import os
import tempfile

PRESENT, ABSENT = "present", "absent"


class LockError(Exception):
    """Raised with the one-line message the module fails with; .holder is the parsed lock or None."""

    def __init__(self, msg, holder=None):
        super().__init__(msg)
        self.holder = holder


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


def read_lock(path):
    """The parsed lock, or None when there is none; raises LockError when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LockError("cannot read lock file %s: %s" % (path, exc.strerror or exc)) from None
    return parse_lock(text, path)


def held_message(path, holder):
    owner = holder.get("owner") or {}
    parts = []
    if owner.get("procedure"):
        parts.append(str(owner["procedure"]))
    if owner.get("version"):
        parts.append("to %s" % owner["version"])
    if owner.get("user"):
        parts.append("by %s" % owner["user"])
    if not parts and holder.get("host"):
        parts.append("on %s" % holder["host"])
    who = " ".join(parts) or "a run"
    since = holder.get("acquired_at") or "an unknown time"
    return ("another deploy or rollback holds the lock %s: %s since %s (run %s); wait for it to finish, "
            "or delete the file if that run is dead" % (path, who, since, holder.get("run_id")))


def lock_document(run_id, owner, host, pid, acquired_at=None):
    return {
        "run_id": run_id,
        "owner": dict(owner or {}),
        "host": host,
        "pid": pid,
        "acquired_at": acquired_at or utc_now(),
    }


def create_lock(path, document):
    """Create the lock atomically; False if it already exists.

    The content is written to a private temp file (O_CREAT|O_EXCL via mkstemp) and hard-linked
    into place: link() fails if the path exists, and a competing run can never observe a lock
    file that exists but is still empty.
    """
    parent = os.path.dirname(path) or "."
    os.makedirs(parent, exist_ok=True)
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


def ensure_lock(path, state, run_id, owner=None, host=None, pid=None, check_mode=False, now=None):
    """Apply state to the lock. Returns dict(changed, acquired, holder, warnings); raises LockError."""
    if not isinstance(run_id, str) or not run_id.strip():
        raise LockError("run_id must be a non-empty string")
    if state not in (PRESENT, ABSENT):
        raise LockError("state must be present or absent")
    warnings = []

    if state == PRESENT:
        # Two passes: a competitor can create the lock between our read and our create.
        for _attempt in range(2):
            holder = read_lock(path)
            if holder is not None:
                if holder["run_id"] == run_id:
                    return {"changed": False, "acquired": True, "holder": holder, "warnings": warnings}
                raise LockError(held_message(path, holder), holder)
            document = lock_document(run_id, owner, host, pid, now)
            if check_mode or create_lock(path, document):
                return {"changed": True, "acquired": True, "holder": document, "warnings": warnings}
        raise LockError("lock file %s keeps appearing and disappearing; another run is racing for it" % path)

    try:
        holder = read_lock(path)
    except LockError as exc:
        # Releasing runs in always/rescue blocks: failing there would hide the real error.
        warnings.append("%s; left in place" % exc)
        return {"changed": False, "acquired": False, "holder": None, "warnings": warnings}
    if holder is None:
        return {"changed": False, "acquired": False, "holder": None, "warnings": warnings}
    if holder["run_id"] != run_id:
        warnings.append("lock %s is held by run %s, not %s; left in place" % (path, holder["run_id"], run_id))
        return {"changed": False, "acquired": False, "holder": holder, "warnings": warnings}
    if not check_mode:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return {"changed": True, "acquired": False, "holder": holder, "warnings": warnings}
