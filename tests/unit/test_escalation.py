"""The runbook's escalation levels: which level what happened calls for, and whom that level reaches."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.filter.escalation import FilterModule
from ansible_collections.runbook.rollback.plugins.module_utils.escalation import escalation, escalation_level_entry

FILTERS = FilterModule().filters()

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


@pytest.mark.parametrize(
    "failed, fell_back, data_at_risk, downtime, level, reasons", LEVELS.values(), ids=list(LEVELS)
)
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


def test_filter_takes_a_dict_and_refuses_unknown_keys():
    assert FILTERS["escalation_level"]({"failed": True, "downtime_seconds": 20000})["level"] == 4
    assert FILTERS["escalation_level"]({})["level"] == 1
    with pytest.raises(AnsibleFilterError, match="unknown keys downtime"):
        FILTERS["escalation_level"]({"downtime": 5000})
    with pytest.raises(AnsibleFilterError, match="downtime_seconds"):
        FILTERS["escalation_level"]({"downtime_seconds": "soon"})


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
    assert FILTERS["escalation_entry"](INVENTORY, level) == expected


@pytest.mark.parametrize("levels, level", [([], 0), ([], 5), ([], "two"), (["level 2"], 2)])
def test_entry_refuses(levels, level):
    with pytest.raises(AnsibleFilterError):
        FILTERS["escalation_entry"](levels, level)
