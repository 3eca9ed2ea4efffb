from __future__ import annotations

import json
import os

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.history import (
    HistoryError,
    append_entry,
    bad_versions,
    last_known_good,
    make_entry,
    parse_lines,
    read_history,
    summarise,
)


def dep(version, result="verified", at=None, **kw):
    entry = {"version": version, "action": "deploy", "result": result, "at": at or "2026-11-28T10:00:00Z"}
    entry.update(kw)
    return entry


def rb(version, from_version, result="verified", at=None):
    return dep(version, result, at, action="rollback", from_version=from_version)


# (entries, exclude_version, expected last_good, expected bad_versions, reason fragment)
LAST_GOOD_CASES = {
    "empty history": ([], None, None, [], "no deployment history yet"),
    "single verified deploy is current": ([dep("v1.2.3")], None, None, [],
                                          "no verified deployment other than the current version v1.2.3"),
    "contract example": (
        [dep("v1.2.2", at="2026-11-27T10:00:00Z"), dep("v1.2.3", at="2026-11-28T10:00:00Z"),
         dep("v1.2.4", "failed", at="2026-11-28T12:00:00Z")],
        None, "v1.2.3", ["v1.2.4"],
        "v1.2.3: last deployment verified at 2026-11-28T10:00:00Z; v1.2.4 (current) failed verification",
    ),
    "current verified but being replaced": (
        [dep("v1.2.3"), dep("v1.2.4")], None, "v1.2.3", [], "v1.2.4 (current) is the version being replaced"),
    "failed version in between is skipped": (
        [dep("v1.2.2"), dep("v1.2.3", "failed"), dep("v1.2.4")], None, "v1.2.2", ["v1.2.3"], "v1.2.2: last deployment"),
    "rolled back from is bad": (
        [dep("v1.2.2"), dep("v1.2.3"), rb("v1.2.2", "v1.2.3"), dep("v1.2.4", "failed")],
        None, "v1.2.2", ["v1.2.4", "v1.2.3"], "v1.2.2: last rollback verified",
    ),
    "rolled back from, later re-verified": (
        [dep("v1.2.2"), dep("v1.2.3"), rb("v1.2.2", "v1.2.3"), dep("v1.2.3"), dep("v1.2.4", "failed")],
        None, "v1.2.3", ["v1.2.4"], "v1.2.3: last deployment",
    ),
    "failed then re-deployed and verified is good again": (
        [dep("v1.2.2"), dep("v1.2.3", "failed"), dep("v1.2.3"), dep("v1.2.4", "failed")],
        None, "v1.2.3", ["v1.2.4"], "v1.2.3",
    ),
    "verified then later failed is bad": (
        [dep("v1.2.2"), dep("v1.2.3"), dep("v1.2.3", "failed"), dep("v1.2.4", "failed")],
        None, "v1.2.2", ["v1.2.4", "v1.2.3"], "v1.2.2",
    ),
    "result other than verified/failed counts as bad": (
        [dep("v1.2.2"), dep("v1.2.3", "aborted")], None, "v1.2.2", ["v1.2.3"], "v1.2.3 (current) ended aborted",
    ),
    "entry without result is not verified": (
        [dep("v1.2.2"), {"version": "v1.2.3", "action": "deploy"}], None, "v1.2.2", ["v1.2.3"],
        "v1.2.3 (current) was never verified",
    ),
    "exclude_version overrides current": (
        [dep("v1.2.2"), dep("v1.2.3"), dep("v1.2.4")], "v1.2.4", "v1.2.3", [], "v1.2.4 (current)",
    ),
    "exclude_version not in history keeps last entry eligible": (
        [dep("v1.2.2"), dep("v1.2.3")], "v1.2.5", "v1.2.3", [], "v1.2.5 (current) is not in the history",
    ),
    "nothing verified": ([dep("v1.2.3", "failed"), dep("v1.2.4", "failed")], None, None, ["v1.2.4", "v1.2.3"],
                         "no verified deployment in 2 history entries"),
    "every other verified version is bad": (
        [dep("v1.2.2"), rb("v1.2.1", "v1.2.2", "failed"), dep("v1.2.3")], None, None, ["v1.2.1", "v1.2.2"],
        "every other verified version is marked bad (v1.2.2)",
    ),
    "current rolled back": (
        [dep("v1.2.2"), dep("v1.2.3"), rb("v1.2.2", "v1.2.3")], "v1.2.3", "v1.2.2", ["v1.2.3"],
        "v1.2.3 (current) was rolled back",
    ),
}


@pytest.mark.parametrize("entries, exclude, last_good, bad, reason", LAST_GOOD_CASES.values(),
                         ids=LAST_GOOD_CASES.keys())
def test_last_known_good(entries, exclude, last_good, bad, reason):
    got = last_known_good(entries, exclude)
    assert got["last_good"] == last_good
    assert got["bad_versions"] == bad
    assert reason in got["reason"]
    assert "\n" not in got["reason"]


@pytest.mark.parametrize(
    "entries, expected",
    [
        ([], []),
        ([dep("v1"), dep("v2", "failed"), dep("v2")], []),
        ([dep("v1"), rb("v0", "v1")], ["v1"]),
        ([dep("v1"), rb("v0", "v1"), dep("v1", "failed")], ["v1"]),
        ([dep("v1"), rb("v0", "v1"), dep("v1")], []),
        # A plain deploy's from_version is bookkeeping, not a verdict.
        ([dep("v1"), dep("v2", from_version="v1")], []),
    ],
)
def test_bad_versions(entries, expected):
    assert bad_versions(entries) == expected


def test_parse_lines_skips_torn_and_foreign_lines():
    text = "\n".join([
        json.dumps(dep("v1.2.3")),
        '{"version": "v1.2.4", "res',  # torn by a crash mid-append
        "[1, 2]",
        '{"action": "deploy"}',
        "",
        json.dumps(dep("v1.2.5")),
    ])
    entries, warnings = parse_lines(text, "deployments.jsonl")
    assert [e["version"] for e in entries] == ["v1.2.3", "v1.2.5"]
    assert warnings == [
        "deployments.jsonl line 2 is not valid JSON (torn write?); skipped",
        "deployments.jsonl line 3 has no version; skipped",
        "deployments.jsonl line 4 has no version; skipped",
    ]


def test_read_missing_file_is_empty(tmp_path):
    assert read_history(str(tmp_path / "nope.jsonl")) == ([], [])


def test_append_creates_parent_and_repairs_torn_tail(tmp_path):
    path = tmp_path / "state" / "deployments.jsonl"
    append_entry(str(path), make_entry({"version": "v1.2.3", "result": "verified"}, at="2026-11-28T10:00:00Z"))
    with open(path, "a") as f:
        f.write('{"version": "v1.2.4", "resu')  # crash left no newline
    append_entry(str(path), make_entry({"version": "v1.2.5", "result": "verified"}))
    entries, warnings = read_history(str(path))
    assert [e["version"] for e in entries] == ["v1.2.3", "v1.2.5"]
    assert len(warnings) == 1
    assert path.read_text().endswith("\n")
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


@pytest.mark.parametrize(
    "entry, error",
    [
        ({}, "entry.version is required"),
        ({"version": ""}, "entry.version is required"),
        ({"version": 3}, "entry.version is required"),
        ({"version": "v1", "action": "upgrade"}, "entry.action must be one of deploy, rollback"),
        ("v1.2.3", "entry must be a dictionary"),
    ],
)
def test_make_entry_rejects(entry, error):
    with pytest.raises(HistoryError, match=error):
        make_entry(entry)


def test_make_entry_adds_at_but_keeps_given():
    assert make_entry({"version": "v1"}, at="2026-01-01T00:00:00Z")["at"] == "2026-01-01T00:00:00Z"
    assert make_entry({"version": "v1", "at": "X"})["at"] == "X"
    assert make_entry({"version": "v1"})["at"].endswith("Z")


@pytest.mark.parametrize(
    "limit, expected", [(2, ["v3", "v4"]), (10, ["v1", "v2", "v3", "v4"]), (0, ["v1", "v2", "v3", "v4"])]
)
def test_summarise_limit(limit, expected):
    entries = [dep("v1"), dep("v2"), dep("v3"), dep("v4", "failed")]
    got = summarise(entries, limit=limit)
    assert [e["version"] for e in got["entries"]] == expected
    assert got["count"] == 4
    assert got["current"]["version"] == "v4"
    assert got["last_good"] == "v3"


@pytest.mark.functional
def test_module_record_and_query(tmp_path, ansible_module):
    path = str(tmp_path / "h" / "deployments.jsonl")
    res = ansible_module("deploy_history", {"path": path, "state": "record",
                                            "entry": {"version": "v1.2.3", "result": "verified"}}, check=True)
    assert res["changed"] is True and not os.path.exists(path)
    for version, result in (("v1.2.3", "verified"), ("v1.2.4", "failed")):
        res = ansible_module("deploy_history", {"path": path, "state": "record",
                                                "entry": {"version": version, "result": result, "action": "deploy"}})
        assert res["changed"] is True and res["entry"]["at"]
    with open(path, "a") as f:
        f.write("{torn\n")
    res = ansible_module("deploy_history", {"path": path})
    assert res["changed"] is False
    assert res["last_good"] == "v1.2.3"
    assert res["bad_versions"] == ["v1.2.4"]
    assert res["count"] == 2 and res["current"]["version"] == "v1.2.4"
    assert "v1.2.4 (current) failed verification" in res["last_good_reason"]
    assert any("torn write" in w for w in res.get("warnings", []))
