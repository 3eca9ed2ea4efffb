"""The HTML incident report: what the on-call engineer and the post-mortem read, from report.json."""

from __future__ import annotations

import copy
import datetime
import re
from html.parser import HTMLParser

import pytest

from ansible_collections.runbook.rollback.plugins.plugin_utils.report_html import render_html

XSS = "<script>alert(1)</script>"


def step(name, offset, duration, status="ok", budget=None, over=False, runbook_step=None):
    return {
        "name": name,
        "runbook_step": runbook_step or "Step: %s" % name,
        "started_at": "2026-11-29T04:%02d:%05.2fZ" % divmod(offset, 60),
        "ended_at": "2026-11-29T04:%02d:%05.2fZ" % divmod(offset + duration, 60),
        "offset": offset,
        "duration": duration,
        "status": status,
        "budget": None if budget is None else {"low": budget[0], "high": budget[1]},
        "over_budget": over,
        "hosts": ["staging-local"],
    }


def procedure_a_ok():
    """Procedure A rolled v1.2.4 back to v1.2.3 on staging, within budget but for the staged restart."""
    return {
        "schema": 1,
        "incident": "INC-42",
        "procedure": "A",
        "procedure_title": "Code rollback",
        "playbook": "procedure_a.yml",
        "status": "ok",
        "reason": "",
        "from_version": "v1.2.4",
        "to_version": "v1.2.3",
        "run": {"id": "r-7f3a", "by": "alice", "target": "staging-local", "controller": "ctl-1", "awx_job_id": None},
        "started_at": "2026-11-29T04:00:00.00Z",
        "ended_at": "2026-11-29T04:05:12.40Z",
        "duration": 312.4,
        "budget": {"low": 300, "high": 600},
        "steps": [
            step("preflight", 0.0, 6.2, budget=(60, 60), runbook_step="Step 1: preflight"),
            step("backup", 6.2, 0.0, budget=(120, 120), runbook_step="Step 1: emergency backup"),
            step("fallback", 6.2, 0.0, status="skipped"),
            step("stop", 12.3, 8.1, budget=(30, 30), runbook_step="Step 2: stop services"),
            step("checkout", 20.4, 4.0, budget=(60, 60), runbook_step="Step 3: code rollback"),
            step("staged_restart", 24.4, 248.0, budget=(120, 180), over=True, runbook_step="Step 4: restart"),
            step("verify", 272.4, 40.0, budget=(300, 600), runbook_step="Step 5: verification"),
        ],
        "runbook_steps": [
            {
                "label": "Step 2: stop services",
                "steps": ["stop"],
                "duration": 8.1,
                "budget": {"low": 30, "high": 30},
                "verdict": "within",
            },
            {
                "label": "Step 4: restart",
                "steps": ["staged_restart"],
                "duration": 248.0,
                "budget": {"low": 120, "high": 180},
                "verdict": "over",
            },
            {"label": "Step 6: notes", "steps": [], "duration": None, "budget": None, "verdict": "no budget"},
        ],
        "downtime": {
            "seconds": 41.2,
            "from": "2026-11-29T04:00:12.30Z",
            "to": "2026-11-29T04:00:53.50Z",
            "ongoing": False,
            "basis": "gateway probe every second",
        },
        "decision": {
            "decided_at": "2026-11-29T03:58:40.00Z",
            "decision": "rollback_now",
            "priority": "critical",
            "procedure": "A",
            "summary": "error rate 40.7% over 5 minutes after deploying v1.2.4",
            "triggers": [{"id": "error_rate_critical", "priority": "critical", "message": "error rate 40.7% > 10%"}],
        },
        "metrics": {"samples": [], "rollback_at": None, "restored_at": None},
        "backups": [{"role": "emergency backup", "path": "/var/backups/mysaas/INC-42.dump", "at": None}],
        "checklists": [
            {
                "name": "Pre-rollback",
                "items": [
                    {
                        "item": "Team notified",
                        "state": "done",
                        "at": "2026-11-29T04:00:01.00Z",
                        "by": "automation",
                        "note": "",
                    },
                    {"item": "Customer support briefed", "state": "open", "at": None, "by": "human", "note": ""},
                    {
                        "item": "Database migration reverted",
                        "state": "n/a",
                        "at": None,
                        "by": "automation",
                        "note": "code-only release",
                    },
                    {
                        "item": "Feature flags off",
                        "state": "failed",
                        "at": "2026-11-29T04:00:02.00Z",
                        "by": "automation",
                        "note": "flag service down",
                    },
                ],
            }
        ],
        "notifications": [
            {"channel": "slack", "event": "started", "ok": True, "status": 200, "error": ""},
            {"channel": "pagerduty", "event": "completed", "ok": False, "status": 500, "error": "server error"},
        ],
        "verification": {"passed": True, "problems": []},
        "follow_ups": ["Write the post-mortem of INC-42", "Fix v1.2.4's payment regression"],
    }


def failed_early():
    """Preflight refused the run: two steps, no decision, no metrics, no downtime figures."""
    return {
        "schema": 1,
        "incident": "INC-43",
        "procedure": "B",
        "status": "failed",
        "reason": "preflight: target version v9.9.9 is not in the deployment history",
        "from_version": "v1.2.4",
        "to_version": None,
        "run": {"by": "bob"},
        "started_at": "2026-11-29T05:00:00Z",
        "ended_at": None,
        "duration": None,
        "budget": None,
        "steps": [
            {"name": "preflight", "offset": 0.0, "duration": 3.5, "status": "failed", "budget": None},
            {"name": "lock", "offset": None, "duration": None, "status": "skipped", "budget": None},
        ],
        "runbook_steps": [],
        "downtime": {"seconds": None, "from": None, "to": None, "ongoing": False, "basis": ""},
        "decision": None,
        "metrics": None,
        "backups": [],
        "checklists": [],
        "notifications": [],
        "verification": None,
        "follow_ups": [],
    }


def with_metrics():
    report = procedure_a_ok()
    start = datetime.datetime(2026, 11, 29, 4, 0, tzinfo=datetime.timezone.utc).timestamp()
    samples = []
    for i in range(-12, 24):
        ts = start + i * 15
        broken = -12 <= i < 4
        samples.append({"ts": ts, "error_rate": 40.7 if broken else 0.4, "p95_ms": 1520.0 if broken else 152.9})
    del samples[5]["error_rate"]
    del samples[9]["p95_ms"]
    report["metrics"] = {"samples": samples, "rollback_at": start + 12.3, "restored_at": start + 53.5}
    return report


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text per element id."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(document):
    parser = Tags()
    parser.feed(document)
    return parser.tags


def step_groups(document):
    return [attrs["data-step"] for tag, attrs in tags(document) if tag == "g" and "data-step" in attrs]


def bars(document):
    return [attrs for tag, attrs in tags(document) if tag == "rect" and "step-bar" in attrs.get("class", "").split()]


@pytest.mark.parametrize("make", [procedure_a_ok, failed_early, with_metrics])
def test_every_step_is_drawn_in_order_with_a_visible_bar(make):
    report = make()
    document = render_html(report)
    assert document.startswith("<!DOCTYPE html>")
    assert 'id="timeline-chart"' in document
    assert step_groups(document) == [s["name"] for s in report["steps"]]
    widths = [float(b["width"]) for b in bars(document)]
    assert len(widths) == len(report["steps"])
    assert all(w >= 2 for w in widths), widths


def test_bars_follow_time_and_duration():
    document = render_html(procedure_a_ok())
    by_step = dict(zip(step_groups(document), bars(document), strict=True))
    restart, verify, stop = by_step["staged_restart"], by_step["verify"], by_step["stop"]
    # staged_restart starts after stop, verify after staged_restart, and the long step is the widest bar.
    assert float(stop["x"]) < float(restart["x"]) < float(verify["x"])
    assert float(restart["width"]) > float(verify["width"]) > float(stop["width"])
    assert "status-skipped" in by_step["fallback"]["class"]
    assert "status-ok" in by_step["verify"]["class"]


def test_failed_step_is_coloured_failed_and_the_summary_says_why():
    document = render_html(failed_early())
    by_step = dict(zip(step_groups(document), bars(document), strict=True))
    assert "status-failed" in by_step["preflight"]["class"]
    assert "target version v9.9.9 is not in the deployment history" in document
    assert "Incident INC-43 \u2014 Procedure B" in document
    assert "<title>Incident INC-43 \u2014 Procedure B</title>" in document


def test_budget_ghost_bar_only_for_steps_with_a_budget():
    document = render_html(procedure_a_ok())
    groups = re.findall(r'<g class="[^"]*" data-step="([^"]+)"[^>]*>(.*?)</g>', document, re.S)
    ghosts = {name for name, body in groups if 'class="step-budget"' in body}
    assert ghosts == {"preflight", "backup", "stop", "checkout", "staged_restart", "verify"}
    assert "4.0 s / 1 min" in document  # checkout: its duration against its budget
    assert "4 min 08 s / 2 min\u20133 min" in document  # staged_restart's range budget


def test_over_budget_steps_are_marked():
    document = render_html(procedure_a_ok())
    marked = [a["data-step"] for t, a in tags(document) if t == "g" and "over-budget" in a.get("class", "").split()]
    assert marked == ["staged_restart"]
    assert "\u26a0 over" in document
    assert '<span class="verdict-over">over</span>' in document


def test_over_budget_is_marked_from_the_figures_when_the_flag_is_missing():
    report = procedure_a_ok()
    report["steps"][3].update(duration=45.0, over_budget=False)  # stop: 45 s against 30 s
    document = render_html(report)
    marked = [a["data-step"] for t, a in tags(document) if t == "g" and "over-budget" in a.get("class", "").split()]
    assert marked == ["stop", "staged_restart"]


def test_zero_second_step_still_has_a_bar():
    document = render_html(procedure_a_ok())
    by_step = dict(zip(step_groups(document), bars(document), strict=True))
    assert float(by_step["backup"]["width"]) == 2


@pytest.mark.parametrize("make", [procedure_a_ok, failed_early, with_metrics])
def test_self_contained_no_script_no_external_resource(make):
    document = render_html(make())
    lowered = document.lower()
    assert "<script" not in lowered
    assert "http" not in lowered
    assert "src=" not in lowered and "href=" not in lowered
    assert "url(" not in lowered and "@import" not in lowered
    assert not any(name.startswith("on") for _unused, attrs in tags(document) for name in attrs)


def test_text_from_the_report_is_escaped():
    report = with_metrics()
    report["steps"][0]["name"] = XSS
    report["reason"] = XSS
    report["status"] = "failed"
    report["runbook_steps"][0]["label"] = XSS
    report["checklists"][0]["items"][0]["note"] = XSS
    report["notifications"][0]["error"] = XSS
    report["follow_ups"].append(XSS)
    report["decision"]["triggers"][0]["message"] = XSS
    report["incident"] = 'INC-"1"<b>'
    document = render_html(report)
    assert "<script" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    assert document.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 7
    assert "INC-&quot;1&quot;&lt;b&gt;" in document
    # The attribute still names the step, as the browser test looks it up.
    assert step_groups(document)[0] == XSS


def test_metrics_chart_only_when_samples_exist():
    assert 'id="metrics-chart"' not in render_html(procedure_a_ok())  # samples: []
    assert 'id="metrics-chart"' not in render_html(failed_early())  # metrics: None
    document = render_html(with_metrics())
    assert document.count('id="metrics-chart"') == 1


def test_metrics_chart_draws_both_series_and_the_markers():
    report = with_metrics()
    document = render_html(report)
    found = {a.get("class"): a for t, a in tags(document) if t in ("polyline", "line")}
    samples = report["metrics"]["samples"]
    error_points = found["series-error-rate"]["points"].split()
    p95_points = found["series-p95"]["points"].split()
    # A sample missing one figure is skipped in that series only.
    assert len(error_points) == len(samples) - 1
    assert len(p95_points) == len(samples) - 1
    assert "marker-rollback" in found and "marker-restored" in found
    assert "rollback started" in document and "restored" in document
    # The rollback marker sits before the restored one, both inside the sampled time.
    xs = [float(p.split(",")[0]) for p in error_points]
    rollback_x, restored_x = float(found["marker-rollback"]["x1"]), float(found["marker-restored"]["x1"])
    assert min(xs) < rollback_x < restored_x < max(xs)
    # While broken, the error rate is drawn higher (smaller y) than once restored.
    ys = [float(p.split(",")[1]) for p in error_points]
    assert ys[0] < ys[-1]


def test_metrics_markers_are_optional():
    report = with_metrics()
    report["metrics"]["rollback_at"] = None
    del report["metrics"]["restored_at"]
    document = render_html(report)
    assert 'id="metrics-chart"' in document
    lines = {a.get("class") for t, a in tags(document) if t == "line"}
    assert "marker-rollback" not in lines and "marker-restored" not in lines
    assert "rollback started 04:" not in document


def test_summary_names_versions_people_times_downtime_and_decision():
    document = render_html(procedure_a_ok())
    assert "v1.2.4 \u2192 v1.2.3" in document
    assert "alice on staging-local, from controller ctl-1" in document
    assert "2026-11-29 04:00:00 UTC" in document and "2026-11-29 04:05:12 UTC" in document
    assert "5 min 12 s (budget 5 min\u201310 min)" in document
    assert "41.2 s" in document
    assert "critical rollback_now \u2192 Procedure A" in document
    assert "critical error_rate_critical: error rate 40.7% &gt; 10%" in document


def test_checklists_notifications_backups_and_follow_ups():
    document = render_html(procedure_a_ok())
    assert '<span class="state-done">\u2713 done</span>' in document
    assert '<span class="state-open">open</span>' in document
    assert '<span class="state-na">n/a</span>' in document
    assert '<span class="state-failed">\u2717 failed</span>' in document
    assert "2026-11-29 04:00:01 UTC" in document
    assert '<span class="notify-failed">failed</span></td><td>500</td><td>server error</td>' in document
    assert '<span class="notify-ok">ok</span></td><td>200</td>' in document
    assert "/var/backups/mysaas/INC-42.dump" in document
    assert "<li>Write the post-mortem of INC-42</li>" in document


@pytest.mark.parametrize(
    "field",
    [
        "steps",
        "runbook_steps",
        "downtime",
        "decision",
        "metrics",
        "backups",
        "checklists",
        "notifications",
        "verification",
        "follow_ups",
        "run",
        "budget",
        "started_at",
        "duration",
        "incident",
        "status",
    ],
)
def test_any_field_may_be_missing_or_none(field):
    for value in (None, "absent"):
        report = copy.deepcopy(with_metrics())
        if value == "absent":
            del report[field]
        else:
            report[field] = None
        document = render_html(report)
        assert document.rstrip().endswith("</html>")
        assert "None" not in re.sub(r"<[^>]+>", "", document)


def test_an_empty_report_still_renders():
    document = render_html({})
    assert "Incident unknown \u2014 Procedure ?" in document
    assert "No step was recorded." in document
    assert 'id="metrics-chart"' not in document


def test_steps_without_offsets_follow_each_other():
    report = failed_early()
    report["steps"] = [
        {"name": "a", "duration": 10.0, "status": "ok"},
        {"name": "b", "duration": 5.0, "status": "ok"},
        {"name": "c", "started_at": "2026-11-29T05:00:30.5Z", "ended_at": "2026-11-29T05:00:40.5Z", "status": "ok"},
    ]
    by_step = dict(zip(step_groups(render_html(report)), bars(render_html(report)), strict=True))
    assert float(by_step["a"]["x"]) < float(by_step["b"]["x"]) < float(by_step["c"]["x"])
    assert float(by_step["c"]["width"]) == pytest.approx(2 * float(by_step["b"]["width"]), abs=0.02)


def test_no_line_is_drawn_where_no_sample_was_taken():
    """Samples every 15 s, then none for two minutes (the rollback), then again: two lines per series, none across."""
    report = with_metrics()
    samples = report["metrics"]["samples"]
    report["metrics"]["samples"] = samples[:12] + samples[20:]
    document = render_html(report)
    lines = [a["points"].split() for t, a in tags(document) if t == "polyline" and a["class"] == "series-error-rate"]
    assert [len(points) for points in lines] == [11, 16]  # sample 5 has no error rate
    end_of_first = float(lines[0][-1].split(",")[0])
    start_of_second = float(lines[1][0].split(",")[0])
    assert end_of_first < start_of_second
    assert len([1 for t, a in tags(document) if t == "polyline" and a["class"] == "series-p95"]) == 2
