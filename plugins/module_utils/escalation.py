# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who has to hear about a rollback: the runbook's four escalation levels worked out from what happened.

Level 1 is the on-call engineer running the rollback. A rollback that failed or had to fall back to an
older release, data whose integrity is in doubt, or an interruption longer than the decision matrix allows
for the incident's priority goes to level 2 (the DevOps lead); an outage longer than an hour or customer data
at risk to level 3 (the engineering manager); an outage longer than four hours, a security breach or a major
loss of data to level 4 (leadership). The conditions someone reported (the decision's signals) say which of
the last ones hold (SIGNAL_LEVELS). The highest rule that holds wins; every rule that holds is named in the
reasons.

An incident outlives one run: its clock (when it started, hence how long the service has been down) and
the highest level an escalation reached are kept per incident (the notify role's notify.json), so that a
later run escalates to level 3 or 4 as the downtime grows and never twice to the same level.
"""

from __future__ import annotations

import datetime
import json

LEVEL_NAMES = {1: "on-call engineer", 2: "DevOps lead", 3: "engineering manager", 4: "CTO/leadership"}
# Downtime thresholds in seconds, strictly exceeded: an outage of exactly one hour stays at level 2 or below.
MAJOR_DOWNTIME = 3600
EXTENDED_DOWNTIME = 14400
# The level each reported condition (decision.SIGNALS) calls for, and why, in the runbook's words.
SIGNAL_LEVELS = {
    "security_breach": (4, "security breach"),
    "vulnerability_exploited": (4, "security breach"),
    "auth_bypass": (4, "security breach"),
    "unauthorized_access": (4, "security breach"),
    "migration_data_loss": (4, "major data loss"),
    "tenant_data_mixing": (3, "customer data at risk"),
    "data_loss_on_save": (3, "customer data at risk"),
    "incorrect_billing": (3, "customer data at risk"),
    "data_corruption": (3, "customer data at risk"),
}


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


def _signals(value):
    """The reported conditions as a list of names: a list (whose items may be any of these), a comma- or
    space-separated string, or a dict of name: true/false. Names this module has no level for are left out."""
    if value is None or value == "":
        return []
    if isinstance(value, dict):
        names = [str(name) for name, on in value.items() if _flag(on, "signal %s" % name)]
    elif isinstance(value, str):
        names = value.replace(",", " ").split()
    elif isinstance(value, (list, tuple)):
        names = [name for item in value for name in _signals(item)]
    else:
        raise ValueError("signals must be a list of names, got %r" % (value,))
    return [name for name in names if name in SIGNAL_LEVELS]


def _minutes(value):
    if value is None or value == "":
        return None
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise ValueError("max_downtime_minutes must be a number of minutes, got %r" % (value,)) from None
    if minutes <= 0:
        raise ValueError("max_downtime_minutes must be more than 0, got %r" % (value,))
    return minutes


def escalation(failed=False, fell_back=False, data_at_risk=False, downtime_seconds=0, signals=None,
               max_downtime_minutes=None):  # fmt: skip
    """``{"level": 1-4, "name": str, "reasons": [str, ...]}`` for what happened.

    ``signals`` are the conditions reported (SIGNAL_LEVELS); ``max_downtime_minutes`` the decision matrix's
    maximum downtime for the incident's priority, which ``downtime_seconds`` must not pass (strictly).
    ``reasons`` is empty at level 1: nothing calls for anyone beyond the engineer on call.
    """
    failed = _flag(failed, "failed")
    fell_back = _flag(fell_back, "fell_back")
    data_at_risk = _flag(data_at_risk, "data_at_risk")
    downtime = _seconds(downtime_seconds)
    allowed = _minutes(max_downtime_minutes)
    rules = [
        (failed, 2, "the rollback failed"),
        (fell_back, 2, "the rollback fell back to an older release"),
        (data_at_risk, 2, "data integrity is at risk"),
        (
            allowed is not None and downtime > (allowed or 0) * 60,
            2,
            "the interruption (%s) passed the maximum downtime of %g min the decision matrix allows"
            % (_duration(downtime), allowed or 0),
        ),
        (downtime > MAJOR_DOWNTIME, 3, "downtime %s is over 1 hour" % _duration(downtime)),
        (downtime > EXTENDED_DOWNTIME, 4, "downtime %s is over 4 hours" % _duration(downtime)),
    ]
    seen = set()
    for name in _signals(signals):
        level, why = SIGNAL_LEVELS[name]
        if why not in seen:
            seen.add(why)
            rules.append((True, level, why))
    held = [(level, reason) for holds, level, reason in rules if holds]
    level = max([1] + [lvl for lvl, _unused in held])
    return {"level": level, "name": LEVEL_NAMES[level], "reasons": [reason for _unused, reason in held]}


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


# --- An incident's clock and the level it reached, kept across runs (notify.json) -----------------------
# Events after which the service is still impaired: its downtime runs on. A completed rollback ends it.
IMPAIRED_EVENTS = ("started", "progress", "failed", "shutdown", "escalation")
STATE_KEYS = ("incident", "started_at", "escalated_level", "last_event", "updated_at")


def parse_time(value):
    """Seconds since the epoch of an ISO 8601 time (``2026-11-29T03:00:00Z``, an offset, or none: UTC).

    None for an empty value; ValueError for anything else that is not such a time.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        text = str(value).strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("%r is not an ISO 8601 time (e.g. 2026-11-29T03:00:00Z)" % (value,)) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def iso_time(epoch):
    """``2026-11-29T03:00:00Z`` for seconds since the epoch."""
    return datetime.datetime.fromtimestamp(float(epoch), tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _previous(state):
    """The kept state as a dict: from its JSON text, a dict, or nothing; a damaged file counts as none."""
    if isinstance(state, (str, bytes)):
        try:
            state = json.loads(state) if state.strip() else {}
        except ValueError:
            return {}
    return state if isinstance(state, dict) else {}


def _level(value):
    try:
        level = int(value)
    except (TypeError, ValueError):
        return 1
    return level if level in LEVEL_NAMES else 1


def incident_clock(state, now_epoch, started_at=None, event="started"):
    """When the incident started, how long the service has been down and the level already reached.

    ``state`` is what notify.json held (its text or dict; missing or damaged: a new incident). The start is
    the earliest of the kept start, ``started_at`` (ISO 8601, e.g. when the deployment broke) and now: the
    first notification starts the incident. The downtime is the time since the start for an event after
    which the service is still impaired (IMPAIRED_EVENTS), 0 for completed.

    Returns ``{"started_at": ISO, "started_epoch": float, "downtime_seconds": int, "escalated_level": 1-4}``.
    """
    now = float(now_epoch)
    previous = _previous(state)
    candidates = [now]
    try:
        kept = parse_time(previous.get("started_at"))
    except ValueError:
        kept = None
    for moment in (kept, parse_time(started_at)):
        if moment is not None:
            candidates.append(moment)
    start = min(candidates)
    downtime = int(max(0.0, now - start)) if event in IMPAIRED_EVENTS else 0
    return {
        "started_at": iso_time(start),
        "started_epoch": start,
        "downtime_seconds": downtime,
        "escalated_level": _level(previous.get("escalated_level")),
    }


def incident_record(clock, incident, event, now_epoch, reached_level=1):
    """What notify.json keeps: the incident's start and the highest level an escalation reached.

    Only these keys (STATE_KEYS), never a URL, key or token: the file sits with the incident's reports.
    """
    return {
        "incident": str(incident),
        "started_at": clock["started_at"],
        "escalated_level": max(_level(clock.get("escalated_level")), _level(reached_level)),
        "last_event": str(event),
        "updated_at": iso_time(now_epoch),
    }
