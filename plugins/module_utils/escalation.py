# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who has to hear about a rollback: the runbook's four escalation levels worked out from what happened.

Level 1 is the on-call engineer running the rollback. A rollback that failed or had to fall back to an
older release, or data whose integrity is in doubt, goes to level 2 (the DevOps lead); an outage longer
than an hour to level 3 (the engineering manager); longer than four hours to level 4 (leadership). The
highest rule that holds wins; every rule that holds is named in the reasons.
"""

from __future__ import annotations

LEVEL_NAMES = {1: "on-call engineer", 2: "DevOps lead", 3: "engineering manager", 4: "CTO/leadership"}
# Downtime thresholds in seconds, strictly exceeded: an outage of exactly one hour stays at level 2 or below.
MAJOR_DOWNTIME = 3600
EXTENDED_DOWNTIME = 14400


def _flag(value, name):
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "false", "no", "0", ""):
        return value.strip().lower() in ("true", "yes", "1")
    if isinstance(value, int):
        return bool(value)
    raise ValueError("%s must be a boolean, got %r" % (name, value))


def _seconds(value):
    if value is None or value == "":
        return 0.0
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError("downtime_seconds must be a number of seconds, got %r" % (value,)) from None
    if seconds < 0:
        raise ValueError("downtime_seconds must be 0 or more, got %r" % (value,))
    return seconds


def _duration(seconds):
    minutes = int(seconds // 60)
    return "%dh%02dm" % (minutes // 60, minutes % 60) if minutes >= 60 else "%dm" % minutes


def escalation(failed=False, fell_back=False, data_at_risk=False, downtime_seconds=0):
    """``{"level": 1-4, "name": str, "reasons": [str, ...]}`` for what happened.

    ``reasons`` is empty at level 1: nothing calls for anyone beyond the engineer on call.
    """
    failed = _flag(failed, "failed")
    fell_back = _flag(fell_back, "fell_back")
    data_at_risk = _flag(data_at_risk, "data_at_risk")
    downtime = _seconds(downtime_seconds)
    rules = [
        (failed, 2, "the rollback failed"),
        (fell_back, 2, "the rollback fell back to an older release"),
        (data_at_risk, 2, "data integrity is at risk"),
        (downtime > MAJOR_DOWNTIME, 3, "downtime %s is over 1 hour" % _duration(downtime)),
        (downtime > EXTENDED_DOWNTIME, 4, "downtime %s is over 4 hours" % _duration(downtime)),
    ]
    held = [(level, reason) for holds, level, reason in rules if holds]
    level = max([1] + [lvl for lvl, _ in held])
    return {"level": level, "name": LEVEL_NAMES[level], "reasons": [reason for _, reason in held]}


def escalation_level_entry(levels, level):
    """The inventory's entry for ``level`` in ``rollback_escalation_levels``, or a bare one.

    The bare entry has the runbook's name for the level, no contacts and no channels (the caller then
    uses every configured channel).
    """
    try:
        level = int(level)
    except (TypeError, ValueError):
        raise ValueError("level must be 1 to 4, got %r" % (level,)) from None
    if level not in LEVEL_NAMES:
        raise ValueError("level must be 1 to 4, got %r" % (level,))
    for entry in levels or []:
        if not isinstance(entry, dict):
            raise ValueError("each escalation level must be a dict with level, name, contacts, channels")
        if str(entry.get("level")) == str(level):
            return {
                "level": level,
                "name": entry.get("name") or LEVEL_NAMES[level],
                "contacts": list(entry.get("contacts") or []),
                "channels": list(entry.get("channels") or []),
            }
    return {"level": level, "name": LEVEL_NAMES[level], "contacts": [], "channels": []}
