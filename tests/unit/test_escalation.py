"""The runbook's escalation levels: which level what happened calls for, and whom that level reaches."""

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.escalation import (
    STATE_KEYS,
    escalation,
    escalation_level_entry,
    incident_clock,
    incident_record,
    parse_time,
)

# (failed, fell_back, data_at_risk, downtime_seconds) -> (level, reasons)
LEVELS = {
    "nothing wrong": (False, False, False, 0, 1, []),
    "short outage": (False, False, False, 600, 1, []),
    "rollback failed": (True, False, False, 0, 2, ["the rollback failed"]),
    "fell back": (False, True, False, 0, 2, ["the rollback fell back to an older release"]),
    "data at risk": (False, False, True, 0, 2, ["data integrity is at risk"]),
    "exactly one hour is not over": (False, False, False, 3600, 1, []),
    "just over one hour": (False, False, False, 3601, 3, ["downtime 1h00m is over 1 hour"]),
    "failed and 70 minutes down": (True, False, False, 4200, 3,
                                   ["the rollback failed", "downtime 1h10m is over 1 hour"]),
    "exactly four hours": (False, False, False, 14400, 3, ["downtime 4h00m is over 1 hour"]),
    "over four hours": (False, False, True, 14401, 4, ["data integrity is at risk", "downtime 4h00m is over 1 hour",
                                                       "downtime 4h00m is over 4 hours"]),
    "flags as strings (extra vars)": ("yes", "false", "no", "90", 2, ["the rollback failed"]),
}  # fmt: skip


@pytest.mark.parametrize("failed, fell_back, data_at_risk, downtime, level, reasons", LEVELS.values(), ids=list(LEVELS))
def test_level(failed, fell_back, data_at_risk, downtime, level, reasons):
    got = escalation(failed, fell_back, data_at_risk, downtime)
    assert (got["level"], got["reasons"]) == (level, reasons)
    names = {1: "on-call engineer", 2: "DevOps lead", 3: "engineering manager", 4: "CTO/leadership"}
    assert got["name"] == names[level]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"downtime_seconds": -1}, "0 or more"),
        ({"downtime_seconds": "an hour"}, "number of seconds"),
        ({"failed": "maybe"}, "failed must be a boolean"),
        ({"data_at_risk": [True]}, "data_at_risk must be a boolean"),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        escalation(**kwargs)


# signals reported, the matrix's maximum downtime and the downtime -> (level, reasons)
REPORTED = {
    "a breach: leadership": (["security_breach"], None, 0, 4, ["security breach"]),
    "an exploited vulnerability is a breach too": ("vulnerability_exploited", None, 0, 4, ["security breach"]),
    "major data loss": ({"migration_data_loss": True, "slow_queries": True}, None, 0, 4, ["major data loss"]),
    "customer data at risk": ("tenant_data_mixing, incorrect_billing", None, 0, 3, ["customer data at risk"]),
    "a signal turned off": ({"security_breach": False}, None, 0, 1, []),
    "turned off as a word": ({"security_breach": "false"}, None, 0, 1, []),
    "trigger ids and the reported value, as the notify role passes them": (
        ["error_rate_critical", "chat_broken", {"tenant_data_mixing": "true"}, None, "auth_bypass"], None, 0, 4,
        ["customer data at risk", "security breach"]),
    "signals with no level of their own": (["slow_queries", "login_broken"], None, 0, 1, []),
    "within the matrix's 5 minutes": ([], 5, 300, 1, []),
    "past the matrix's 5 minutes": ([], 5, 301, 2,
                                    ["the interruption (5m) passed the maximum downtime of 5 min the decision "
                                     "matrix allows"]),
    "past the matrix's 15 minutes and an hour": (
        [], "15", 3700, 3,
        ["the interruption (1h01m) passed the maximum downtime of 15 min the decision matrix allows",
         "downtime 1h01m is over 1 hour"]),
    "no maximum: not checked": ([], "", 7200 - 1, 3, ["downtime 1h59m is over 1 hour"]),
}  # fmt: skip


@pytest.mark.parametrize("signals, allowed, downtime, level, reasons", REPORTED.values(), ids=list(REPORTED))
def test_reported_conditions_and_the_matrix_maximum(signals, allowed, downtime, level, reasons):
    got = escalation(downtime_seconds=downtime, signals=signals, max_downtime_minutes=allowed)
    assert (got["level"], got["reasons"]) == (level, reasons)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"max_downtime_minutes": 0}, "more than 0"), ({"max_downtime_minutes": "soon"}, "number of minutes"),
     ({"signals": 3}, "list of names"), ({"signals": {"security_breach": "maybe"}}, "must be a boolean")],
)  # fmt: skip
def test_reported_conditions_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        escalation(**kwargs)


INVENTORY = [
    {"level": 2, "name": "DevOps lead", "contacts": ["@devops-lead"], "channels": ["slack", "pagerduty"]},
    {"level": "3", "contacts": ["@em"]},
]


@pytest.mark.parametrize(
    "level, expected",
    [
        (2, {"level": 2, "name": "DevOps lead", "contacts": ["@devops-lead"], "channels": ["slack", "pagerduty"]}),
        ("3", {"level": 3, "name": "engineering manager", "contacts": ["@em"], "channels": []}),
        (4, {"level": 4, "name": "CTO/leadership", "contacts": [], "channels": []}),
    ],
    ids=["configured", "level given as a string, name from the runbook", "not configured"],
)
def test_entry(level, expected):
    assert escalation_level_entry(INVENTORY, level) == expected


@pytest.mark.parametrize("levels, level", [([], 0), ([], 5), ([], "two"), (["level 2"], 2)])
def test_entry_refuses(levels, level):
    with pytest.raises(ValueError):
        escalation_level_entry(levels, level)


# --- The incident's clock, kept across runs (notify.json) ---------------------------------------------------
NOW = 1795922400.0  # 2026-11-29T03:20:00Z
HOUR = 3600


def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-11-29T03:20:00Z", NOW),
        ("2026-11-29T03:20:00z", NOW),
        ("2026-11-29T05:20:00+02:00", NOW),
        ("2026-11-29T03:20:00", NOW),  # no offset: UTC
        ("2026-11-29 03:20:00.000+00:00", NOW),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_parse_time(value, expected):
    assert parse_time(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "29/11/2026 03:20", "1795917600", "2026-13-01T00:00:00Z"])
def test_parse_time_refuses(value):
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        parse_time(value)


# (kept state, started_at, event) -> (start, downtime, level already reached)
CLOCKS = {
    "first notification starts the incident": ("", "", "started", NOW, 0, 1),
    "damaged state counts as none": ("{not json", "", "failed", NOW, 0, 1),
    "state that is not a dict": ("[1, 2]", "", "failed", NOW, 0, 1),
    "kept start, still impaired": (json.dumps({"started_at": iso(NOW - 2 * HOUR), "escalated_level": 3}), "",
                                   "failed", NOW - 2 * HOUR, 2 * HOUR, 3),
    "kept start as a dict": ({"started_at": iso(NOW - 70 * 60), "escalated_level": "2"}, None, "escalation",
                             NOW - 70 * 60, 70 * 60, 2),
    "completed: no more downtime": (json.dumps({"started_at": iso(NOW - 2 * HOUR)}), "", "completed",
                                    NOW - 2 * HOUR, 0, 1),
    "started_at earlier than the kept start wins": (json.dumps({"started_at": iso(NOW - HOUR)}), iso(NOW - 5 * HOUR),
                                                    "shutdown", NOW - 5 * HOUR, 5 * HOUR, 1),
    "started_at later than the kept start is ignored": (json.dumps({"started_at": iso(NOW - 5 * HOUR)}),
                                                        iso(NOW - HOUR), "started", NOW - 5 * HOUR, 5 * HOUR, 1),
    "started_at in the future is ignored": ("", iso(NOW + HOUR), "failed", NOW, 0, 1),
    "a kept start that is damaged is replaced": (json.dumps({"started_at": "soon", "escalated_level": 9}), "",
                                                 "failed", NOW, 0, 1),
}  # fmt: skip


@pytest.mark.parametrize("state, started_at, event, start, downtime, level", CLOCKS.values(), ids=list(CLOCKS))
def test_incident_clock(state, started_at, event, start, downtime, level):
    clock = incident_clock(state, NOW, started_at, event)
    assert clock == {"started_at": iso(start), "started_epoch": start, "downtime_seconds": downtime,
                     "escalated_level": level}  # fmt: skip
    assert incident_clock(state, str(NOW), started_at, event) == clock


def test_the_kept_clock_escalates_as_the_downtime_grows():
    kept = json.dumps({"started_at": iso(NOW - 2 * HOUR), "escalated_level": 2})
    clock = incident_clock(kept, NOW, "", "failed")
    assert escalation(failed=True, downtime_seconds=clock["downtime_seconds"])["level"] == 3
    clock = incident_clock(kept, NOW, iso(NOW - 5 * HOUR), "started")
    assert escalation(downtime_seconds=clock["downtime_seconds"])["level"] == 4
    clock = incident_clock(kept, NOW, iso(NOW - 5 * HOUR), "completed")
    assert escalation(downtime_seconds=clock["downtime_seconds"])["level"] == 1


def test_incident_clock_refuses_a_bad_start():
    with pytest.raises(ValueError, match="'an hour ago' is not an ISO 8601 time"):
        incident_clock("", NOW, "an hour ago", "failed")


@pytest.mark.parametrize(
    "kept_level, reached, expected",
    [(1, 1, 1), (1, 3, 3), (3, 2, 3), (2, "4", 4), (3, None, 3)],
)
def test_incident_record_keeps_the_highest_level_and_nothing_else(kept_level, reached, expected):
    clock = incident_clock(json.dumps({"started_at": iso(NOW - HOUR), "escalated_level": kept_level,
                                       "webhook_url": "https://hooks.example/secret"}), NOW, "", "failed")  # fmt: skip
    record = incident_record(clock, "INC-7", "failed", NOW, reached)
    assert record == {"incident": "INC-7", "started_at": iso(NOW - HOUR), "escalated_level": expected,
                      "last_event": "failed", "updated_at": iso(NOW)}  # fmt: skip
    assert tuple(record) == STATE_KEYS
