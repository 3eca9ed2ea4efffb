"""A run's timeline and record as the timeline callback hands them to the report (plugin_utils/report.py),
for the report's tests and the hostile-input tests."""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.plugin_utils import report as rpt

T0 = 1_800_000_000.0


def step(name, start, end, status="ok", rescued=0):
    return {
        "name": name,
        "started_at": rpt.iso(T0 + start) + "",
        "ended_at": rpt.iso(T0 + end),
        "duration": float(end - start),
        "status": status,
        "rescued": rescued,
        "hosts": ["prod-1"],
    }


def timeline(*steps, status="ok"):
    return {
        "playbook": "procedure_a.yml",
        "started_at": rpt.iso(T0),
        "ended_at": rpt.iso(T0 + 400),
        "duration": 400.0,
        "status": status,
        "steps": list(steps),
    }


A_STEPS = (
    step("preflight", 0, 20),
    step("notify", 20, 21),
    step("stop", 21, 61),
    step("checkout", 61, 63),
    step("staged_restart", 63, 263),
    step("verify", 263, 300),
    step("history", 300, 301),
)
RECORD = {
    "incident": "INC-1",
    "procedure": "A",
    "result": "ok",
    "from_version": "v1.2.4",
    "to_version": "v1.2.3",
    "run_id": "r1",
    "by": "alice",
    "target": "prod-1",
}
