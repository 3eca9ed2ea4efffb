from __future__ import annotations

import json
import os

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.lock import (
    LockError,
    create_lock,
    ensure_lock,
    held_message,
    lock_document,
    parse_lock,
)

NOW = "2026-11-28T10:00:00Z"
OWNER = {"procedure": "rollback", "version": "v1.2.3", "user": "alice"}


def write_lock(path, run_id="run-other", owner=OWNER):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(lock_document(run_id, owner, "app-01", 99, NOW)))


@pytest.mark.parametrize(
    "owner, expected",
    [
        (OWNER, "another deploy or rollback holds the lock /l: rollback to v1.2.3 by alice since "
                "2026-11-28T10:00:00Z (run r1); wait for it to finish, or delete the file if that run is dead"),
        ({"user": "bob"}, "holds the lock /l: by bob since"),
        ({"procedure": "deploy", "version": "v2.0.0"}, "holds the lock /l: deploy to v2.0.0 since"),
        ({}, "holds the lock /l: on app-01 since"),
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
    with pytest.raises(LockError, match="cannot tell who holds it"):
        ensure_lock(str(path), "present", "run-1", OWNER)
    assert path.read_text() == content


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
    "existing, run_id, changed, remains, warns",
    [
        (None, "run-1", False, False, False),
        ("run-1", "run-1", True, False, False),
        ("run-other", "run-1", False, True, True),
        ("<corrupt>", "run-1", False, True, True),
    ],
    ids=["missing", "ours", "other run", "corrupt"],
)
def test_release(tmp_path, existing, run_id, changed, remains, warns):
    path = tmp_path / "lock.json"
    if existing == "<corrupt>":
        path.write_text("{")
    elif existing:
        write_lock(path, existing)
    res = ensure_lock(str(path), "absent", run_id)
    assert res["changed"] is changed
    assert res["acquired"] is False
    assert path.exists() is remains
    assert bool(res["warnings"]) is warns
    if existing == "run-other":
        assert res["holder"]["run_id"] == "run-other"
        assert "held by run run-other" in res["warnings"][0]


def test_release_check_mode_keeps_file(tmp_path):
    path = tmp_path / "lock.json"
    write_lock(path, "run-1")
    res = ensure_lock(str(path), "absent", "run-1", check_mode=True)
    assert res["changed"] is True and path.exists()


@pytest.mark.parametrize("run_id, state", [("", "present"), ("  ", "absent"), ("r", "locked")])
def test_bad_arguments(tmp_path, run_id, state):
    with pytest.raises(LockError):
        ensure_lock(str(tmp_path / "l"), state, run_id)


@pytest.mark.functional
def test_module_lifecycle(tmp_path, ansible_module):
    path = str(tmp_path / "locks" / "app.lock")
    res = ansible_module("lock", {"path": path, "run_id": "r1", "owner": OWNER}, check=True)
    assert res["changed"] is True and not os.path.exists(path)
    res = ansible_module("lock", {"path": path, "run_id": "r1", "owner": OWNER})
    assert res["changed"] is True and res["acquired"] is True and res["holder"]["host"]
    res = ansible_module("lock", {"path": path, "run_id": "r1"})
    assert res["changed"] is False and res["acquired"] is True
    res = ansible_module("lock", {"path": path, "run_id": "r2", "owner": {"procedure": "deploy"}})
    assert res["failed"] is True
    assert res["msg"].startswith(
        "another deploy or rollback holds the lock %s: rollback to v1.2.3 by alice since" % path)
    res = ansible_module("lock", {"path": path, "run_id": "r2", "state": "absent"})
    assert res["changed"] is False and os.path.exists(path) and res["warnings"]
    res = ansible_module("lock", {"path": path, "run_id": "r1", "state": "absent"})
    assert res["changed"] is True and not os.path.exists(path)
