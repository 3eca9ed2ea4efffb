"""The drill record: one entry per drill, and what changed since the drill before."""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.plugin_utils.drill import drill_entry, drill_markdown
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_budget import budget_rows, interruption, iso

CHECKS = [{"name": "health", "ok": True, "detail": ""}, {"name": "smoke", "ok": True, "detail": ""}]
RECORD = {"incident": "drill", "procedure": "A", "release": {"from": "v1.2.4", "to": "v1.2.3"}, "failure": "",
          "verification": {"passed": True, "problems": [], "checks": CHECKS}}  # fmt: skip


def steps(**seconds):
    """The lookup runbook_steps' result for timeline steps of these durations, one after the other."""
    out, at = [], 1_700_000_000.0
    for name, took in seconds.items():
        out.append({"name": name, "started_at": iso(at), "ended_at": iso(at + took), "duration": took,
                    "status": "ok"})  # fmt: skip
        at += took
    return {"steps": out, "rows": budget_rows("A", out), "interruption": interruption("A", out, "ok", at),
            "seconds": round(sum(seconds.values()), 1)}  # fmt: skip


def test_a_first_drill_is_recorded_against_the_budgets_with_nothing_to_compare():
    entry = drill_entry(steps(assess=40, preflight=20, stop=5, checkout=3, staged_restart=200, verify=150), RECORD,
                        "2026-09-01T10:00:00Z", {"seconds": 3.2, "basis": "traffic"})  # fmt: skip
    got = (entry["result"], entry["procedure"], entry["from_version"], entry["to_version"])
    assert got == ("pass", "A", "v1.2.4", "v1.2.3")
    assert entry["over_budget"] == ["Step 5: verify"] and entry["failed_checks"] == []
    assert entry["interruption_seconds"] == 208.0 and entry["compared"] is None
    text = drill_markdown([entry])
    assert "2026-09-01T10:00:00Z: Procedure A, v1.2.4 to v1.2.3 (incident drill): **PASS**" in text
    assert "| Step 5: verify | 2 min 30 s | 2 min | over |" in text
    assert "- downtime users saw: 3.2 s (traffic)" in text
    assert "- the first drill on record: nothing to compare with yet" in text


def test_the_second_drill_says_what_changed_since_the_first():
    first = drill_entry(steps(assess=40, preflight=20, stop=5, checkout=3, staged_restart=200, verify=150), RECORD,
                        "2026-09-01T10:00:00Z")  # fmt: skip
    failing = dict(RECORD, failure="verification failed: smoke",
                   verification={"passed": False, "checks": [{"name": "smoke", "ok": False}]})  # fmt: skip
    second = drill_entry(steps(assess=40, preflight=80, stop=5, checkout=3, staged_restart=120, verify=100), failing,
                         "2026-12-01T10:00:00Z", previous=first)  # fmt: skip
    assert second["result"] == "fail" and second["failed_checks"] == ["smoke"]
    compared = second["compared"]
    assert compared["previous_tested_at"] == "2026-09-01T10:00:00Z" and compared["seconds_delta"] == -70.0
    assert compared["newly_over_budget"] == ["Step 1: identify the last known good release"]
    assert compared["back_within_budget"] == ["Step 5: verify"]
    assert compared["newly_failed_checks"] == ["smoke"]
    deltas = {s["label"]: s["delta"] for s in compared["steps"]}
    assert deltas["Step 4: rebuild and restart in stages"] == -80.0 and deltas["Step 2: stop services"] == 0
    text = drill_markdown([first, second])
    assert "**FAIL** (verification failed: smoke)" in text
    assert "- since the drill of 2026-09-01T10:00:00Z (pass): total 5 min 48 s, -1 min 10 s" in text
    assert "  - Step 4: rebuild and restart in stages: 2 min 00 s, -1 min 20 s" in text
    assert "- newly over budget: Step 1: identify the last known good release" in text
    assert "- checks failing now: smoke" in text
    # The log, the latest first.
    log = text.split("## Drill log")[1]
    assert log.index("2026-12-01T10:00:00Z") < log.index("2026-09-01T10:00:00Z")


def test_a_drill_that_detected_nothing_is_recorded_as_failed_with_why():
    entry = drill_entry(steps(assess=40), {}, "2026-12-01T10:00:00Z", None, None,
                        "the broken release was not detected: the decision was none")  # fmt: skip
    assert (entry["result"], entry["procedure"], entry["failure"]) == (
        "fail", None, "the broken release was not detected: the decision was none")  # fmt: skip
    # The run record's own failure comes first.
    failed = drill_entry(steps(assess=40), dict(RECORD, failure="stage core never healthy"), "2026-12-01T10:00:00Z",
                         failure="the stack ended on v1.2.4 (failed), not v1.2.3 verified")  # fmt: skip
    assert failed["failure"] == "stage core never healthy"
    text = drill_markdown([entry])
    assert "Procedure none, ? to ? (incident None): **FAIL** (the broken release was not detected" in text
