"""The incident report's data: steps against the runbook's budgets, the interruption, the checklists, the texts."""

from __future__ import annotations

import pytest

from ansible_collections.runbook.rollback.plugins.plugin_utils import report as rpt
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_html import render_html
from ansible_collections.runbook.rollback.tests.unit.report_data import A_STEPS, RECORD, T0, step, timeline


def test_a_runbook_step_sums_its_roles_and_is_judged_against_the_upper_estimate():
    rows = rpt.budget_rows(
        "B",
        [
            step("restore_side", 0, 300),
            step("restore_swap", 300, 700),
            step("checkout", 700, 710),
            step("restore_migrations", 710, 720),
        ],
    )
    assert [(r["label"], r["duration"], r["verdict"]) for r in rows] == [
        ("Steps 3-4: stop the application, restore the database", 700.0, "over"),
        ("Step 5: roll back the code", 20.0, "within"),
    ]


def test_steps_no_runbook_step_names_are_listed_without_a_budget_and_skipped_ones_left_out():
    rows = rpt.budget_rows("A", [step("stop", 0, 10), step("history", 10, 11), step("checkout", 11, 11, "skipped")])
    assert [(r["label"], r["verdict"]) for r in rows] == [("Step 2: stop services", "within"), ("history", "no budget")]


def test_the_summary_table_says_over_for_a_step_and_the_whole_run():
    lines = rpt.budget_table("A", list(A_STEPS), 700.0, "ok")
    assert lines[0] == "RUNBOOK STEPS AGAINST BUDGET (Procedure A: Code rollback)"
    stop = next(line for line in lines if "Step 2: stop services" in line)
    assert "40.0 s" in stop and stop.rstrip().endswith("over")
    assert lines[-1].split()[0] == "total" and "5-10 min" in lines[-1] and lines[-1].rstrip().endswith("over")
    assert rpt.budget_table("Z", list(A_STEPS), 1.0, "ok") == []


@pytest.mark.parametrize(
    ("letter", "steps", "status", "expected"),
    [
        ("A", A_STEPS, "ok", (242.0, False)),  # stop start (21) to staged_restart end (263)
        ("A", A_STEPS[:3], "failed", (379.0, True)),  # stopped at 21, the run ended at 400 without a restart
        ("C", (step("single_service", 0, 5), step("single_service_replace", 5, 35)), "ok", (30.0, False)),
        ("D", (step("procedure_d", 3, 20),), "ok", (397.0, True)),
        ("A", (step("preflight", 0, 5, "failed"),), "failed", (0.0, False)),
    ],
)
def test_the_interruption_the_run_saw(letter, steps, status, expected):
    down = rpt.interruption(letter, list(steps), status, T0 + 400)
    assert (down["seconds"], down["ongoing"]) == expected


def test_a_rescued_failure_is_shown_on_the_step_that_failed_when_the_run_failed():
    steps = list(A_STEPS[:5]) + [step("verify", 263, 300, rescued=1)]
    report = rpt.build_report(dict(RECORD, result="failed", reason="smoke failed"), timeline(*steps, status="failed"))
    assert {s["name"]: s["status"] for s in report["steps"]}["verify"] == "failed"
    assert report["downtime"]["ongoing"] is True
    ok = rpt.build_report(RECORD, timeline(*steps))
    assert {s["name"]: s["status"] for s in ok["steps"]}["verify"] == "ok"


def test_checklists_of_an_assessed_procedure_b_with_notifications():
    decision = {
        "decided_at": rpt.iso(T0 - 60),
        "decision": "rollback_now",
        "priority": "critical",
        "summary": "s",
        "triggers": [{"id": "data_loss_on_save", "priority": "critical", "message": "m"}],
        "inputs": {"samples": [{"ts": T0 - 50, "error_rate": 12.5, "p95_ms": 300}, {"ts": T0 - 40}]},
    }
    steps = [
        step("restore_select", 0, 5),
        step("preflight", 5, 10),
        step("restore_check", 10, 15),
        step("backup", 15, 40),
        step("restore_side", 40, 60),
        step("restore_swap", 60, 70),
        step("checkout", 70, 72),
        step("staged_restart", 72, 120),
        step("verify", 120, 150),
    ]
    record = dict(
        RECORD,
        procedure="B",
        decision=decision,
        notifications=[
            {"channel": "slack", "event": "started", "ok": True, "at": rpt.iso(T0 + 11)},
            {"channel": "statuspage", "event": "started", "ok": False, "error": "HTTP 500"},
            {"channel": "slack", "event": "completed", "ok": True},
        ],
        verification={
            "passed": True,
            "problems": [],
            "checks": [
                {"name": "containers", "ok": True, "detail": "9"},
                {"name": "health", "ok": True, "detail": "7/7"},
                {"name": "smoke", "ok": True, "detail": "5/5"},
                {"name": "error rate", "ok": True, "detail": "0 %"},
                {"name": "p95", "ok": True, "detail": "80 ms"},
                {"name": "stability", "ok": True, "detail": "skipped"},
            ],
        },
    )
    report = rpt.build_report(record, timeline(*steps))
    items = {i["item"]: i for c in report["checklists"] for i in c["items"]}
    assert items["Issue identified and documented"]["at"] == rpt.iso(T0 - 60)
    assert (items["Team notified"]["state"], items["Team notified"]["at"]) == ("done", rpt.iso(T0 + 11))
    assert items["Status page updated"]["state"] == "failed" and "HTTP 500" in items["Status page updated"]["note"]
    assert items["Backup verified (if database rollback needed)"]["at"] == rpt.iso(T0 + 15)
    assert items["Emergency backup created"]["state"] == "done"
    assert items["Code rolled back (or database restored)"]["at"] == rpt.iso(T0 + 72)
    assert items["Metrics returned to normal"]["state"] == "done"
    assert items["Monitoring for stability (15 min)"]["state"] == "open"
    assert items["Status page updated to resolved"]["state"] == "open"  # nothing sent to the status page
    assert report["metrics"]["samples"] == [{"ts": T0 - 50, "error_rate": 12.5, "p95_ms": 300.0}]
    assert report["metrics"]["rollback_at"] == T0 + 60 and report["metrics"]["restored_at"] == T0 + 120
    assert any("statuspage notification (started) failed" in f for f in report["follow_ups"])


def test_procedure_a_does_not_claim_a_backup_or_a_database_check():
    items = {i["item"]: i for c in rpt.build_report(RECORD, timeline(*A_STEPS))["checklists"] for i in c["items"]}
    assert items["Emergency backup created"]["state"] == "n/a"
    assert items["Backup verified (if database rollback needed)"]["state"] == "n/a"
    assert items["Rollback version identified"]["state"] == "done"
    assert items["Health checks passing"]["state"] == "open"  # no verification in the record


def test_markdown_keeps_a_hostile_reason_on_its_line_and_in_its_cell():
    record = dict(RECORD, result="failed", reason="boom | x\n# injected heading")
    text = rpt.render_markdown(rpt.build_report(record, timeline(*A_STEPS, status="failed")))
    assert "\n# injected heading" not in text and "boom \\| x" in text
    assert "| stop | Step 2: stop services |" in text and "40.0 s | 30 s | ok, over budget |" in text


def test_the_postmortem_fills_in_what_the_run_knows_and_leaves_the_rest():
    record = dict(
        RECORD,
        deployed_at=rpt.iso(T0 - 3600),
        decision={"decided_at": rpt.iso(T0 - 60), "decision": "rollback_now", "summary": "error rate 41%"},
    )
    text = rpt.render_postmortem(rpt.build_report(record, timeline(*A_STEPS)))
    assert "- %s - Deployment started (v1.2.4)" % rpt.hhmm(T0 - 3600) in text
    assert "- %s - Services restored" % rpt.hhmm(T0 + 263) in text
    assert "- Downtime: 4.0 min" in text and "Users affected: <!-- number -->" in text
    assert "## Action Items" in text and "## Lessons Learned" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-29T04:00:00.35Z", 1795924800.35),
        ("2026-11-29T04:00:00Z", 1795924800.0),
        ("nonsense", None),
        (None, None),
    ],
)
def test_iso_times_as_the_callback_writes_them(text, expected):
    got = rpt.parse_iso(text)
    assert got == pytest.approx(expected) if expected is not None else got is None


@pytest.mark.parametrize(("incident", "expected"), [("INC-42", "INC-42"), ("../etc", "fb"), ("", "fb"), ("a/b", "fb")])
def test_only_a_safe_incident_id_names_a_directory(incident, expected):
    assert rpt.safe_incident(incident, "fb") == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.04, "0.0 s"),
        (59.9, "59.9 s"),
        (120, "2 min 00 s"),
        (125, "2 min 05 s"),
        (3 * 3600 + 60, "3 h 01 min"),
        (None, "-"),
    ],
)
def test_durations_read_like_a_person_would_say_them(seconds, text):
    assert rpt.duration_text(seconds) == text


@pytest.mark.parametrize(
    ("budget", "text"),
    [({"low": 30, "high": 30}, "30 s"), ({"low": 120, "high": 120}, "2 min"), ({"low": 180, "high": 300}, "3-5 min"),
     ({"low": 30, "high": 90}, "30 s-90 s"), (None, "-")],
)  # fmt: skip
def test_estimates_read_as_the_runbook_writes_them(budget, text):
    assert rpt.budget_text(budget) == text


def test_the_procedure_frame_is_judged_against_the_whole_procedure_and_left_out_of_the_step_rows():
    report = rpt.build_report(RECORD, timeline(step("procedure_a", 0, 700), *A_STEPS))
    frame = report["steps"][0]
    assert (frame["runbook_step"], frame["budget"], frame["over_budget"]) == (
        "Procedure A as a whole", {"low": 300, "high": 600}, True)
    assert "procedure_a" not in [row["label"] for row in report["runbook_steps"]]


def test_preflight_entered_through_its_tasks_files_counts_towards_step_1():
    steps = [step("single_service", 0, 10), step("preflight_lock", 10, 12), step("preflight_release", 12, 15)]
    rows = rpt.budget_rows("C", steps)
    assert [(r["label"], r["steps"], r["duration"]) for r in rows] == [
        ("Step 1: identify the failed service", ["single_service", "preflight_lock", "preflight_release"], 15.0)
    ]


def test_a_verification_that_found_the_release_broken_is_a_failed_verify_step():
    steps = [step("procedure_a", 0, 320, "failed"), *A_STEPS[:5], step("verify", 263, 300)]
    record = dict(RECORD, result="failed", verification={"passed": False, "problems": ["smoke: 3/5"], "checks": []})
    report = rpt.build_report(record, timeline(*steps, status="failed"))
    statuses = {s["name"]: s["status"] for s in report["steps"]}
    assert (statuses["verify"], statuses["staged_restart"]) == ("failed", "ok")


def test_the_procedure_frame_failing_does_not_hide_the_step_whose_failure_it_took_over():
    steps = [step("procedure_a", 0, 320, "failed"), *A_STEPS[:4], step("staged_restart", 63, 263, rescued=1)]
    report = rpt.build_report(dict(RECORD, result="failed"), timeline(*steps, status="failed"))
    assert {s["name"]: s["status"] for s in report["steps"]}["staged_restart"] == "failed"


def test_markdown_shows_html_links_and_mentions_from_anyone_as_text():
    hostile = '<img src=x onerror=alert(1)> [click](javascript:alert(1)) ![i](http://x/y.png) <!channel> a & b'
    record = dict(RECORD, result="failed", reason=hostile, to_version="v1.2.3<script>")
    text = rpt.render_markdown(rpt.build_report(record, timeline(*A_STEPS, status="failed")))
    assert "<img" not in text and "<script>" not in text and "<!channel>" not in text
    assert "[click](" not in text and "![i](" not in text
    assert "&lt;img src=x onerror=alert(1)&gt; \\[click\\](javascript:alert(1))" in text
    assert "a &amp; b" in text


def test_the_report_names_both_figures_for_what_they_are():
    users = {"url_count": 2, "interval": 0.25, "rounds": 400, "probes": 800,
             "unanswered": 9, "answered_5xx": 2, "without_answer_seconds": 2.3, "longest_gap_seconds": 1.9,
             "gaps": [], "ongoing": False}  # fmt: skip
    report = rpt.build_report(dict(RECORD, users=users), timeline(*A_STEPS))
    assert report["users"] == users
    text = rpt.render_markdown(report)
    assert "| Service interruption | " in text and "from the first service stopped to the last stage healthy" in text
    assert ("| Users without an answer | 2.3 s (longest gap 1.9 s; 9 of 800 probes unanswered, 2 answered 5xx; "
            "probed every 0.25 s at 2 URLs) |") in text  # fmt: skip
    html = render_html(report)
    assert "Users without an answer" in html and "9 of 800 probes unanswered" in html
    # Not probed: no such line, rather than a figure made up.
    assert "Users without an answer" not in rpt.render_markdown(rpt.build_report(RECORD, timeline(*A_STEPS)))
