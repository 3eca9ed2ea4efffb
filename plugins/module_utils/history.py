# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deployment history (deployments.jsonl) and the last-known-good decision."""

from __future__ import annotations

import datetime
import json
import os

VERIFIED = "verified"
ACTIONS = ("deploy", "rollback")


class HistoryError(ValueError):
    pass


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_lines(text, source="history"):
    """Return (entries, warnings). A torn or foreign line is skipped rather than fatal, because the
    history is consulted exactly when something went wrong (a crash mid-append included)."""
    entries, warnings = [], []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            warnings.append("%s line %d is not valid JSON (torn write?); skipped" % (source, number))
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("version"), str) or not obj["version"]:
            warnings.append("%s line %d has no version; skipped" % (source, number))
            continue
        entries.append(obj)
    return entries, warnings


def read_history(path):
    """(entries, warnings); a missing file is an empty history (first deploy on a host)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return [], []
    return parse_lines(text, os.path.basename(path))


def pinned(entry):
    """Whether the entry records a mixed stack: services pinned to another release by Procedure C."""
    return bool(entry.get("pins"))


def bad_versions(entries):
    """Versions not to roll back to, newest first.

    Bad: the latest entry for the version is not verified, or a rollback moved away from it -
    unless a later entry for that version was verified (it was fixed and re-verified).
    """
    bad = {}
    for i, e in enumerate(entries):
        version = e["version"]
        later = entries[i + 1:]
        # A verified stack with a pinned service (Procedure C) vouches for neither release as a whole.
        if e.get("result") != VERIFIED and not any(x["version"] == version and not pinned(x) for x in later):
            bad[version] = i
        rolled_from = e.get("from_version")
        if e.get("action") == "rollback" and isinstance(rolled_from, str) and rolled_from:
            if not any(x["version"] == rolled_from and x.get("result") == VERIFIED and not pinned(x) for x in later):
                bad[rolled_from] = max(bad.get(rolled_from, -1), i)
    return [v for v, _unused in sorted(bad.items(), key=lambda kv: kv[1], reverse=True)]


def _describe_current(current, entries, bad):
    mine = [e for e in entries if e["version"] == current]
    if not mine:
        return "%s (current) is not in the history" % current
    latest = mine[-1]
    rolled_back = any(e.get("action") == "rollback" and e.get("from_version") == current for e in entries)
    if current in bad:
        if latest.get("result") == "failed":
            return "%s (current) failed verification" % current
        if latest.get("result") not in (None, VERIFIED):
            return "%s (current) ended %s" % (current, latest.get("result"))
        if rolled_back:
            return "%s (current) was rolled back" % current
        return "%s (current) was never verified" % current
    return "%s (current) is the version being replaced" % current


def last_known_good(entries, exclude_version=None):
    """Return dict(last_good, reason, bad_versions, current_version) - see deploy_history docs."""
    bad = bad_versions(entries)
    current = exclude_version or (entries[-1]["version"] if entries else None)
    if not entries:
        return {"last_good": None, "reason": "no deployment history yet", "bad_versions": [],
                "current_version": current}
    for e in reversed(entries):
        version = e["version"]
        if e.get("result") != VERIFIED or version == current or version in bad or pinned(e):
            continue
        what = "rollback" if e.get("action") == "rollback" else "deployment"
        reason = "%s: last %s verified at %s" % (version, what, e.get("at") or "unknown time")
        if current:
            reason += "; " + _describe_current(current, entries, bad)
        return {"last_good": version, "reason": reason, "bad_versions": bad, "current_version": current}

    verified = {e["version"] for e in entries if e.get("result") == VERIFIED}
    if not verified:
        reason = "no verified deployment in %d history entries" % len(entries)
    elif verified <= {current}:
        reason = "no verified deployment other than the current version %s" % current
    else:
        others = sorted(verified - {current})
        reason = "every other verified version is marked bad (%s)" % ", ".join(others)
    return {"last_good": None, "reason": reason, "bad_versions": bad, "current_version": current}


def summarise(entries, exclude_version=None, limit=10):
    """The query result of deploy_history (without warnings)."""
    decision = last_known_good(entries, exclude_version)
    return {
        "entries": entries[-limit:] if limit > 0 else list(entries),
        "count": len(entries),
        "current": entries[-1] if entries else None,
        "last_good": decision["last_good"],
        "last_good_reason": decision["reason"],
        "bad_versions": decision["bad_versions"],
    }


def make_entry(entry, at=None):
    if not isinstance(entry, dict):
        raise HistoryError("entry must be a dictionary")
    version = entry.get("version")
    if not isinstance(version, str) or not version.strip():
        raise HistoryError("entry.version is required")
    action = entry.get("action")
    if action is not None and action not in ACTIONS:
        raise HistoryError("entry.action must be one of %s, got %r" % (", ".join(ACTIONS), action))
    record = dict(entry)
    record.setdefault("at", at or utc_now())
    return record


def append_entry(path, record):
    """Append one JSON line durably; O_APPEND keeps concurrent writers from interleaving."""
    line = json.dumps(record, sort_keys=False, separators=(",", ":"), default=str)
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        # A crash can leave a torn last line without "\n"; appending straight after it would
        # glue this entry onto the garbage and lose it too.
        size = os.fstat(fd).st_size
        prefix = ""
        if size:
            with open(path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    prefix = "\n"
        os.write(fd, (prefix + line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return line
