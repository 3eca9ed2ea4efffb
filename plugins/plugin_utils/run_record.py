# Copyright: runbook.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run record: one dictionary (the fact rollback_run) that holds what a run of a procedure did.

The skeleton (roles/procedure/tasks/fresh.yml) starts it; each step writes what it did into it with the
runbook.rollback.run_record filter; the incident report and the hooks read it, and nothing else. A field
the record does not have is refused, so a misspelt update fails the task that makes it instead of
leaving a gap in the report.
"""

from __future__ import annotations

import copy

# Field: (kind, default). Kinds: "text" (a string or None), "flag" (a bool), "list" (appended to with
# append=), "set" (a list appended to without duplicates), "map" (merged key by key), "any" (replaced
# whole).
FIELDS = {
    # Who and what: decided at the start of the run.
    "incident": ("text", ""),
    "run_id": ("text", None),
    "procedure": ("text", ""),
    "action": ("text", ""),
    "target": ("text", None),
    # The release rolled back from (from), to (to) and why (reason), its commit, and when the release
    # rolled back from was deployed (deployed_at, from the history).
    "release": ("map", {"from": None, "to": None, "reason": None, "commit": None, "deployed_at": None}),
    # The service of a single-service rollback (Procedure C).
    "service": ("text", None),
    # The point of no return passed; the lock held by this run.
    "changes_started": ("flag", False),
    "lock_held": ("flag", False),
    # Backups taken or restored: {role, id, path, at}.
    "backups": ("set", []),
    # Databases a restore replaced and kept (never dropped by the tool).
    "kept_databases": ("set", []),
    # The verdict: {passed, problems, checks}; None until a verification ran.
    "verification": ("any", None),
    # Metric samples of the stability watch after the rollback.
    "samples": ("list", []),
    # What users saw while the procedure ran: the user-facing endpoints probed (runbook.rollback.user_probe's
    # result: without_answer_seconds, longest_gap_seconds, unanswered, answered_5xx, ...); None when not probed.
    "users": ("any", None),
    # Each delivery to the team: {channel, event, ok, ...}.
    "notifications": ("list", []),
    # Why the run failed, in one line for the team; empty while it has not.
    "failure": ("text", ""),
}


class RunRecordError(ValueError):
    """An update the record cannot take."""


def new_record(**fields) -> dict:
    """A fresh record with every field at its default, then `fields` set."""
    record = {name: copy.deepcopy(default) for name, (_kind, default) in FIELDS.items()}
    return update(record, fields)


def update(record, changes=None, append=None) -> dict:
    """A copy of `record` with `changes` set and the lists of `append` added to (a "set" leaves out an item
    it holds already).

    `record` may be empty or None (a role run outside a procedure): the defaults stand in for it.
    """
    if not record:
        record = {name: copy.deepcopy(default) for name, (_kind, default) in FIELDS.items()}
    if not isinstance(record, dict):
        raise RunRecordError("run_record: the record must be a dictionary, not %s" % type(record).__name__)
    # A new dictionary whose changed fields are new values: the record given is never changed, and what it
    # shares with the result is never changed later (an update replaces a field, it never edits one). No deep
    # copy: under ansible-core 2.19 the record arrives as a lazy template container, whose deep copy cost a
    # quarter of Procedure A's CPU.
    result = dict(record)
    for name, value in (changes or {}).items():
        kind = _kind(name)
        if kind == "flag":
            if not isinstance(value, bool):
                raise RunRecordError("run_record: %s must be true or false, not %r" % (name, value))
            result[name] = value
        elif kind == "text":
            if value is not None and not isinstance(value, str):
                raise RunRecordError("run_record: %s must be a string, not %s" % (name, type(value).__name__))
            result[name] = value
        elif kind == "map":
            if not isinstance(value, dict):
                raise RunRecordError("run_record: %s must be a dictionary, not %s" % (name, type(value).__name__))
            unknown = sorted(set(value) - set(FIELDS[name][1]))
            if unknown:
                raise RunRecordError("run_record: %s has no field %s" % (name, ", ".join(unknown)))
            result[name] = {**(result.get(name) or {}), **value}
        elif kind in ("list", "set"):
            if not isinstance(value, list):
                raise RunRecordError("run_record: %s must be a list, not %s" % (name, type(value).__name__))
            result[name] = list(value)
        else:
            result[name] = value
    for name, items in (append or {}).items():
        kind = _kind(name)
        if kind not in ("list", "set"):
            raise RunRecordError("run_record: only a list takes append=, and %s is not one" % name)
        if not isinstance(items, list):
            items = [items]
        current = list(result.get(name) or [])
        for item in items:
            if kind == "list" or item not in current:
                current.append(item)
        result[name] = current
    return result


def backup_entry(backup, role):
    """The record's entry for a backup that db_backup or db_backup_info returned: {role, id, path, at}."""
    if not isinstance(backup, dict) or not backup.get("id"):
        raise RunRecordError("run_record: a backup must be a dictionary with an id, not %r" % (backup,))
    return {"role": str(role), "id": backup["id"], "path": backup.get("path"), "at": backup.get("created_at")}


def _kind(name):
    if name not in FIELDS:
        raise RunRecordError("run_record: the run record has no field %r (fields: %s)" % (name, ", ".join(FIELDS)))
    return FIELDS[name][0]
