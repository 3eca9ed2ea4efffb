# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident report as one self-contained HTML page, for the post-mortem and the incident channel.

``render_html(report)`` takes the report dict (report.json) and returns an HTML5 document with its CSS
and two SVG pictures drawn here: the steps of the run against their runbook budgets (a Gantt chart),
and the error rate and p95 latency around the rollback when metrics were sampled. The page loads
nothing and runs nothing: it is attached to tickets and opened from mail, offline, years later.
Every value from the report is HTML-escaped; any field may be missing or None, because a run that
failed early has few steps, no decision and no metrics.
"""

from __future__ import annotations

import datetime
import html
import itertools
import math

from ansible_collections.runbook.rollback.plugins.plugin_utils.report_budget import (
    duration_text,
    estimate_text,
    parse_iso,
    users_text,
)

STATUS_CLASSES = ("ok", "failed", "skipped")
CHECK_STATES = {
    "done": ("\u2713 done", "state-done"),
    "open": ("open", "state-open"),
    "n/a": ("n/a", "state-na"),
    "failed": ("\u2717 failed", "state-failed"),
}
# Every bar stays visible: a step that took no measurable time is still a step that ran.
MIN_BAR_PX = 2
NICE_STEPS = (1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400)

TIMELINE_WIDTH = 960
TIMELINE_LABEL_W = 230
TIMELINE_TEXT_W = 240
TIMELINE_ROW_H = 26
TIMELINE_TOP = 34
TIMELINE_BOTTOM = 40

METRICS_WIDTH = 960
METRICS_LEFT = 70
METRICS_RIGHT = 30
METRICS_PANEL_H = 150
METRICS_GAP = 46
METRICS_TOP = 56

CSS = """
body { font-family: "DejaVu Sans", Verdana, sans-serif; margin: 24px; color: #1d2733; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px 0; }
h2 { font-size: 17px; margin: 28px 0 8px 0; border-bottom: 1px solid #d5dbe3; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px 0; }
p.subtitle { margin: 0 0 16px 0; color: #4a5a6c; }
table { border-collapse: collapse; margin: 4px 0 12px 0; font-size: 13px; }
th, td { border: 1px solid #d5dbe3; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f1f4f8; }
table.summary th { width: 190px; }
.status-ok { color: #1c7c3a; font-weight: bold; }
.status-failed { color: #b3261e; font-weight: bold; }
.status-skipped { color: #6b7785; }
.verdict-over, .state-failed, .notify-failed { color: #b3261e; font-weight: bold; }
.verdict-within, .state-done, .notify-ok { color: #1c7c3a; }
.state-open { color: #a35c00; font-weight: bold; }
.state-na, .muted { color: #6b7785; }
svg { max-width: 100%; height: auto; display: block; margin: 8px 0; }
svg text { font-family: "DejaVu Sans", Verdana, sans-serif; font-size: 12px; fill: #1d2733; }
svg .axis { stroke: #8a96a3; stroke-width: 1; }
svg .grid { stroke: #e3e8ee; stroke-width: 1; }
svg .tick-label { fill: #4a5a6c; font-size: 11px; }
svg .step-bar.status-ok { fill: #2e9d57; }
svg .step-bar.status-failed { fill: #d0382f; }
svg .step-bar.status-skipped { fill: #b8c0c9; }
svg .step-bar.status-unknown { fill: #7d8da1; }
svg .step-budget { fill: #2f6fb3; fill-opacity: 0.08; stroke: #2f6fb3; stroke-width: 1.5; stroke-dasharray: 5 3; }
svg .over-budget .step-bar { stroke: #7a0d07; stroke-width: 2; }
svg .over-budget-mark { fill: #b3261e; font-weight: bold; }
svg .procedure-budget { stroke: #2f6fb3; stroke-width: 1; stroke-dasharray: 2 3; }
svg .series-error-rate { fill: none; stroke: #d0382f; stroke-width: 2; }
svg .series-p95 { fill: none; stroke: #2f6fb3; stroke-width: 2; }
svg .point-error-rate { fill: #d0382f; }
svg .point-p95 { fill: #2f6fb3; }
svg .marker-rollback { stroke: #a35c00; stroke-width: 2; stroke-dasharray: 6 3; }
svg .marker-restored { stroke: #1c7c3a; stroke-width: 2; stroke-dasharray: 6 3; }
.legend span { display: inline-block; margin-right: 16px; font-size: 12px; }
.swatch { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: middle; }
"""


def _e(value) -> str:
    """The text of a value, escaped for HTML text and attributes; None is empty."""
    if value is None:
        return ""
    return html.escape(str(value), quote=True)


def _num(value):
    """A finite float, or None (booleans and text are not figures)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _epoch(value):
    """Epoch seconds of an ISO 8601 time (naive means UTC), or None for anything else."""
    return parse_iso(value) if isinstance(value, str) else None


def _clock(epoch, with_date=False) -> str:
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if with_date else "%H:%M:%S")


def _when(value) -> str:
    """An ISO time as a reader wants it (UTC, to the second); text it cannot parse as it is."""
    epoch = _epoch(value)
    if epoch is None:
        return "" if value is None else str(value)
    return _clock(epoch, with_date=True)


def _duration(seconds) -> str:
    seconds = _num(seconds)
    return "" if seconds is None else duration_text(seconds)


def _budget_high(budget):
    budget = _dict(budget)
    high = _num(budget.get("high"))
    return high if high is not None else _num(budget.get("low"))


def _budget_text(budget) -> str:
    budget = _dict(budget)
    low, high = _num(budget.get("low")), _num(budget.get("high"))
    if low is None and high is None:
        return ""
    if low is None or high is None or low == high:
        return estimate_text(high if high is not None else low)
    return "%s\u2013%s" % (estimate_text(low), estimate_text(high))


def _tick_step(span, max_ticks=10):
    for step in NICE_STEPS:
        if span / step <= max_ticks:
            return step
    return NICE_STEPS[-1] * math.ceil(span / (NICE_STEPS[-1] * max_ticks))


def _tick_label(seconds) -> str:
    if seconds == 0:
        return "0"
    if seconds % 3600 == 0:
        return "%dh" % (seconds // 3600)
    if seconds % 60 == 0:
        return "%dm" % (seconds // 60)
    if seconds > 60:
        return "%dm%02ds" % divmod(seconds, 60)
    return "%ds" % seconds


def _status_class(status) -> str:
    return "status-%s" % status if status in STATUS_CLASSES else "status-unknown"


def _fmt(value) -> str:
    """A coordinate, short and locale-free."""
    return ("%.2f" % value).rstrip("0").rstrip(".")


# --- the steps against their budgets -----------------------------------------------------------


def _step_rows(report):
    """Each step with its offset, duration and budget in seconds from the run's start, in report order."""
    start = _epoch(report.get("started_at"))
    rows = []
    cursor = 0.0
    for step in _list(report.get("steps")):
        step = _dict(step)
        offset = _num(step.get("offset"))
        began, ended = _epoch(step.get("started_at")), _epoch(step.get("ended_at"))
        if offset is None and start is not None and began is not None:
            offset = began - start
        if offset is None:
            # No time at all: the step follows the one before, so the order still reads.
            offset = cursor
        offset = max(offset, 0.0)
        duration = _num(step.get("duration"))
        if duration is None and began is not None and ended is not None:
            duration = ended - began
        duration = max(duration or 0.0, 0.0)
        high = _budget_high(step.get("budget"))
        over = bool(step.get("over_budget")) or (high is not None and duration > high)
        rows.append(
            {
                "name": "" if step.get("name") is None else str(step.get("name")),
                "runbook_step": step.get("runbook_step"),
                "status": step.get("status"),
                "offset": offset,
                "duration": duration,
                "budget": step.get("budget"),
                "high": high,
                "over": over,
            }
        )
        cursor = offset + duration
    return rows


def _timeline_svg(report) -> str:
    rows = _step_rows(report)
    if not rows:
        return '<p class="muted" id="timeline-empty">No step was recorded.</p>'
    procedure_budget = _dict(report.get("budget"))
    ends = [r["offset"] + r["duration"] for r in rows] + [r["offset"] + r["high"] for r in rows if r["high"]]
    run_duration = _num(report.get("duration"))
    if run_duration:
        ends.append(run_duration)
    span = max([*ends, 1.0])
    tick = _tick_step(span)
    span = math.ceil(span / tick) * tick

    x0 = TIMELINE_LABEL_W
    plot_w = TIMELINE_WIDTH - TIMELINE_LABEL_W - TIMELINE_TEXT_W
    scale = plot_w / span
    plot_h = len(rows) * TIMELINE_ROW_H
    height = TIMELINE_TOP + plot_h + TIMELINE_BOTTOM
    bottom = TIMELINE_TOP + plot_h

    out = [
        '<svg id="timeline-chart" role="img" width="%d" height="%d" viewBox="0 0 %d %d">'
        % (TIMELINE_WIDTH, height, TIMELINE_WIDTH, height),
        "<title>Steps of the run against their runbook budgets</title>",
        '<text x="%d" y="18" class="tick-label">step</text>' % 8,
        '<text x="%d" y="18" class="tick-label">seconds from the start of the run</text>' % x0,
        '<text x="%d" y="18" class="tick-label">took / budget</text>' % (x0 + plot_w + 10),
    ]
    value = 0
    while value <= span:
        x = x0 + value * scale
        out.append('<line class="grid" x1="%s" y1="%d" x2="%s" y2="%d"/>' % (_fmt(x), TIMELINE_TOP, _fmt(x), bottom))
        out.append(
            '<text class="tick-label" x="%s" y="%d" text-anchor="middle">%s</text>'
            % (_fmt(x), bottom + 16, _tick_label(value))
        )
        value += tick
    out.append('<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>' % (x0, bottom, x0 + plot_w, bottom))
    out.append('<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>' % (x0, TIMELINE_TOP, x0, bottom))
    for key in ("low", "high"):
        bound = _num(procedure_budget.get(key))
        if bound is None or bound > span or (key == "low" and bound == _num(procedure_budget.get("high"))):
            continue
        x = _fmt(x0 + bound * scale)
        out.append(
            '<line class="procedure-budget" x1="%s" y1="%d" x2="%s" y2="%d"><title>procedure budget, %s: %s</title>'
            "</line>" % (x, TIMELINE_TOP - 6, x, bottom, key, _e(estimate_text(bound)))
        )
        out.append(
            '<text class="tick-label" x="%s" y="%d" text-anchor="middle">%s %s</text>'
            % (x, bottom + 30, "budget" if key == "high" else "low", _e(estimate_text(bound)))
        )

    for i, row in enumerate(rows):
        y = TIMELINE_TOP + i * TIMELINE_ROW_H
        bar_y, bar_h = y + 5, TIMELINE_ROW_H - 10
        classes = "step" + (" over-budget" if row["over"] else "")
        bar_x = x0 + row["offset"] * scale
        bar_w = max(row["duration"] * scale, MIN_BAR_PX)
        bar_x = min(bar_x, x0 + plot_w - bar_w)
        label = row["name"] if len(row["name"]) <= 30 else row["name"][:29] + "\u2026"
        budget_text = _budget_text(row["budget"])
        took = _duration(row["duration"])
        tooltip = "%s%s: %s, %s%s%s" % (
            row["name"],
            " (%s)" % row["runbook_step"] if row["runbook_step"] else "",
            row["status"] or "no status",
            took,
            ", budget %s" % budget_text if budget_text else ", no budget",
            ", OVER BUDGET" if row["over"] else "",
        )
        out.append('<g class="%s" data-step="%s" data-status="%s">' % (classes, _e(row["name"]), _e(row["status"])))
        out.append("<title>%s</title>" % _e(tooltip))
        out.append('<text x="8" y="%d">%s</text>' % (y + TIMELINE_ROW_H - 9, _e(label)))
        if row["high"]:
            out.append(
                '<rect class="step-budget" x="%s" y="%d" width="%s" height="%d"/>'
                % (_fmt(x0 + row["offset"] * scale), y + 3, _fmt(max(row["high"] * scale, MIN_BAR_PX)), bar_h + 4)
            )
        out.append(
            '<rect class="step-bar %s" x="%s" y="%d" width="%s" height="%d" rx="2"/>'
            % (_status_class(row["status"]), _fmt(bar_x), bar_y, _fmt(bar_w), bar_h)
        )
        text = took + (" / %s" % budget_text if budget_text else "")
        out.append('<text x="%d" y="%d">%s' % (x0 + plot_w + 10, y + TIMELINE_ROW_H - 9, _e(text)))
        if row["over"]:
            out.append(' <tspan class="over-budget-mark">\u26a0 over</tspan>')
        out.append("</text></g>")
    out.append("</svg>")
    legend = (
        '<p class="legend">'
        '<span><i class="swatch" style="background:#2e9d57"></i>ok</span>'
        '<span><i class="swatch" style="background:#d0382f"></i>failed</span>'
        '<span><i class="swatch" style="background:#b8c0c9"></i>skipped</span>'
        '<span><i class="swatch" style="border:1.5px dashed #2f6fb3"></i>runbook budget (upper bound)</span>'
        '<span class="verdict-over">\u26a0 over budget</span></p>'
    )
    return "\n".join(out) + "\n" + legend


# --- error rate and p95 around the rollback ----------------------------------------------------


def _segments(points):
    """``points`` ((time, value), in time order) split where no sample was taken: at a pause longer than three times
    their usual interval (the median), a second at least. A line is drawn within a segment, never across a pause."""
    if len(points) < 3:
        return [points] if points else []
    steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(points))
    limit = max(3 * steps[len(steps) // 2], 1.0)
    segments = [[points[0]]]
    for previous, current in itertools.pairwise(points):
        if current[0] - previous[0] > limit:
            segments.append([])
        segments[-1].append(current)
    return segments


def _metrics_svg(metrics) -> str:
    samples = [_dict(s) for s in _list(metrics.get("samples"))]
    samples = [s for s in samples if _num(s.get("ts")) is not None]
    if not samples:
        return ""
    series = {
        "error_rate": [(_num(s["ts"]), _num(s.get("error_rate"))) for s in samples],
        "p95_ms": [(_num(s["ts"]), _num(s.get("p95_ms"))) for s in samples],
    }
    series = {key: sorted((t, v) for t, v in points if v is not None) for key, points in series.items()}
    markers = [
        (key, _num(metrics.get(key)), css, label)
        for key, css, label in (
            ("rollback_at", "marker-rollback", "rollback started"),
            ("restored_at", "marker-restored", "restored"),
        )
    ]
    markers = [m for m in markers if m[1] is not None]
    times = [_num(s["ts"]) for s in samples] + [m[1] for m in markers]
    t_min, t_max = min(times), max(times)
    if t_max - t_min < 1:
        t_max = t_min + 1
    tick = _tick_step(t_max - t_min, max_ticks=8)

    x0 = METRICS_LEFT
    plot_w = METRICS_WIDTH - METRICS_LEFT - METRICS_RIGHT
    height = METRICS_TOP + 2 * METRICS_PANEL_H + METRICS_GAP + 34

    def x_of(t):
        return x0 + (t - t_min) / (t_max - t_min) * plot_w

    out = [
        '<svg id="metrics-chart" role="img" width="%d" height="%d" viewBox="0 0 %d %d">'
        % (METRICS_WIDTH, height, METRICS_WIDTH, height),
        "<title>Error rate and p95 latency over time</title>",
    ]
    panels = (
        ("error_rate", "series-error-rate", "point-error-rate", "error rate (%)", 5.0, "%"),
        ("p95_ms", "series-p95", "point-p95", "p95 latency (ms)", 50.0, " ms"),
    )
    for index, (key, css, point_css, title, floor, unit) in enumerate(panels):
        top = METRICS_TOP + index * (METRICS_PANEL_H + METRICS_GAP)
        bottom = top + METRICS_PANEL_H
        points = series[key]
        peak = max([v for _unused, v in points] + [floor])
        y_tick = _tick_step(peak, max_ticks=4) if peak >= 1 else peak / 4
        y_max = math.ceil(peak / y_tick) * y_tick

        def y_of(v, top=top, y_max=y_max):
            return top + METRICS_PANEL_H - (v / y_max) * METRICS_PANEL_H

        out.append('<g class="panel panel-%s">' % css)
        out.append('<text x="%d" y="%d">%s</text>' % (x0, top - 8, _e(title)))
        value = 0.0
        while value <= y_max + 1e-9:
            y = _fmt(y_of(value))
            out.append('<line class="grid" x1="%d" y1="%s" x2="%d" y2="%s"/>' % (x0, y, x0 + plot_w, y))
            out.append(
                '<text class="tick-label" x="%d" y="%s" text-anchor="end" dy="4">%s%s</text>'
                % (x0 - 6, y, _e("%g" % value), _e(unit))
            )
            value += y_tick
        out.append('<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>' % (x0, top, x0, bottom))
        out.append('<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>' % (x0, bottom, x0 + plot_w, bottom))
        if points:
            # No line where there is no sample (the rollback itself, between the assessment and the watch).
            for segment in _segments(points):
                coords = " ".join("%s,%s" % (_fmt(x_of(t)), _fmt(y_of(v))) for t, v in segment)
                out.append('<polyline class="%s" points="%s"/>' % (css, coords))
            for t, v in points:
                out.append(
                    '<circle class="%s" cx="%s" cy="%s" r="2.5"><title>%s: %s%s</title></circle>'
                    % (point_css, _fmt(x_of(t)), _fmt(y_of(v)), _e(_clock(t)), _e("%g" % v), _e(unit))
                )
        else:
            out.append(
                '<text class="tick-label" x="%s" y="%s" text-anchor="middle">no samples</text>'
                % (_fmt(x0 + plot_w / 2), _fmt(top + METRICS_PANEL_H / 2))
            )
        out.append("</g>")
    axis_y = METRICS_TOP + 2 * METRICS_PANEL_H + METRICS_GAP
    value = math.ceil(t_min / tick) * tick
    while value <= t_max:
        out.append(
            '<text class="tick-label" x="%s" y="%d" text-anchor="middle">%s</text>'
            % (_fmt(x_of(value)), axis_y + 16, _clock(value))
        )
        value += tick
    out.append('<text class="tick-label" x="%d" y="%d">UTC</text>' % (x0 + plot_w - 24, axis_y + 30))
    for _key, at, css, label in markers:
        x = _fmt(x_of(at))
        out.append(
            '<line class="%s" x1="%s" y1="%d" x2="%s" y2="%d"><title>%s at %s</title></line>'
            % (css, x, METRICS_TOP - 20, x, axis_y, label, _clock(at))
        )
        anchor = "end" if x_of(at) > x0 + plot_w - 120 else "start"
        dx = -4 if anchor == "end" else 4
        out.append(
            '<text class="%s-label" x="%s" y="%d" dx="%d" text-anchor="%s">%s %s</text>'
            % (css, x, 14 if css == "marker-rollback" else 30, dx, anchor, label, _clock(at))
        )
    out.append("</svg>")
    legend = (
        '<p class="legend">'
        '<span><i class="swatch" style="background:#d0382f"></i>error rate</span>'
        '<span><i class="swatch" style="background:#2f6fb3"></i>p95 latency</span>'
        '<span><i class="swatch" style="border-top:2px dashed #a35c00"></i>rollback started</span>'
        '<span><i class="swatch" style="border-top:2px dashed #1c7c3a"></i>restored</span></p>'
    )
    return "\n".join(out) + "\n" + legend


# --- tables ------------------------------------------------------------------------------------


def _table(headers, rows, css="") -> str:
    out = ["<table%s>" % (' class="%s"' % css if css else ""), "<tr>"]
    out.extend("<th>%s</th>" % _e(h) for h in headers)
    out.append("</tr>")
    for row in rows:
        out.append("<tr>%s</tr>" % "".join("<td>%s</td>" % cell for cell in row))
    out.append("</table>")
    return "".join(out)


def _summary(report) -> str:
    run = _dict(report.get("run"))
    status = report.get("status")
    rows = [("Status", '<span class="%s">%s</span>' % (_status_class(status), _e(status or "unknown")))]
    if status == "failed" or report.get("reason"):
        rows.append(("Reason", _e(report.get("reason") or "not recorded")))
    versions = "%s \u2192 %s" % (report.get("from_version") or "?", report.get("to_version") or "?")
    rows.append(("Versions", _e(versions)))
    who = run.get("by") or "unknown"
    where = ", ".join(
        "%s %s" % (label, run[key])
        for key, label in (("target", "on"), ("controller", "from controller"), ("awx_job_id", "AWX job"))
        if run.get(key) not in (None, "")
    )
    rows.append(("Run by", _e(who + (" " + where if where else ""))))
    if run.get("id"):
        rows.append(("Run id", _e(run.get("id"))))
    if report.get("playbook"):
        rows.append(("Playbook", _e(report.get("playbook"))))
    rows.append(("Started", _e(_when(report.get("started_at")) or "not recorded")))
    rows.append(("Ended", _e(_when(report.get("ended_at")) or "not recorded")))
    took = _duration(report.get("duration")) or "not recorded"
    budget = _budget_text(report.get("budget"))
    if budget:
        high = _budget_high(report.get("budget"))
        duration = _num(report.get("duration"))
        over = duration is not None and high is not None and duration > high
        took += " (budget %s%s)" % (budget, ", over budget" if over else "")
    rows.append(("Duration", _e(took)))
    downtime = _dict(report.get("downtime"))
    seconds = _num(downtime.get("seconds"))
    if seconds is not None:
        text = _duration(seconds)
        if downtime.get("from") or downtime.get("to"):
            text += " (%s \u2192 %s)" % (_when(downtime.get("from")) or "?", _when(downtime.get("to")) or "?")
    elif downtime.get("ongoing"):
        text = "ongoing since %s" % (_when(downtime.get("from")) or "?")
    else:
        text = "not observed"
    if downtime.get("ongoing") and seconds is not None:
        text += ", still ongoing"
    if downtime.get("basis"):
        text += " \u2014 %s" % downtime.get("basis")
    rows.append(("Service interruption", _e(text)))
    users = _dict(report.get("users"))
    if users:
        rows.append(("Users without an answer", _e(users_text(users))))
    decision = report.get("decision")
    if isinstance(decision, dict):
        head = " ".join(str(decision[k]) for k in ("priority", "decision") if decision.get(k))
        if decision.get("procedure"):
            head += " \u2192 Procedure %s" % decision.get("procedure")
        if decision.get("decided_at"):
            head += " at %s" % _when(decision.get("decided_at"))
        cell = _e(head)
        if decision.get("summary"):
            cell += "<br>" + _e(decision.get("summary"))
        triggers = [_dict(t) for t in _list(decision.get("triggers"))]
        if triggers:
            cell += "<ul>%s</ul>" % "".join(
                "<li>%s</li>"
                % _e(" ".join(str(t[k]) for k in ("priority", "id") if t.get(k)) + ": " + str(t.get("message") or ""))
                for t in triggers
            )
        rows.append(("Decision", cell))
    verification = report.get("verification")
    if isinstance(verification, dict):
        passed = verification.get("passed")
        cell = '<span class="%s">%s</span>' % (
            "status-ok" if passed else "status-failed",
            "passed" if passed else "failed",
        )
        problems = _list(verification.get("problems"))
        if problems:
            cell += "<ul>%s</ul>" % "".join("<li>%s</li>" % _e(p) for p in problems)
        rows.append(("Verification", cell))
    return '<table class="summary">%s</table>' % "".join("<tr><th>%s</th><td>%s</td></tr>" % r for r in rows)


def _runbook_table(report) -> str:
    rows = []
    for item in _list(report.get("runbook_steps")):
        item = _dict(item)
        verdict = item.get("verdict") or ""
        css = {"over": "verdict-over", "within": "verdict-within"}.get(verdict, "muted")
        rows.append(
            (
                _e(item.get("label")),
                _e(", ".join(str(s) for s in _list(item.get("steps")))),
                _e(_duration(item.get("duration"))),
                _e(_budget_text(item.get("budget")) or "none"),
                '<span class="%s">%s</span>' % (css, _e(verdict)),
            )
        )
    if not rows:
        return '<p class="muted">No runbook step was recorded.</p>'
    return _table(("Runbook step", "Steps", "Took", "Budget", "Verdict"), rows)


def _checklists(report) -> str:
    out = []
    for checklist in _list(report.get("checklists")):
        checklist = _dict(checklist)
        rows = []
        for item in _list(checklist.get("items")):
            item = _dict(item)
            state = item.get("state")
            text, css = CHECK_STATES.get(state, (state or "unknown", "muted"))
            rows.append(
                (
                    _e(item.get("item")),
                    '<span class="%s">%s</span>' % (css, _e(text)),
                    _e(_when(item.get("at"))),
                    _e(item.get("by")),
                    _e(item.get("note")),
                )
            )
        out.append("<h3>%s</h3>" % _e(checklist.get("name") or "Checklist"))
        out.append(_table(("Item", "State", "At", "By", "Note"), rows) if rows else '<p class="muted">Empty.</p>')
    return "".join(out) or '<p class="muted">No checklist was recorded.</p>'


def _notifications(report) -> str:
    rows = []
    for note in _list(report.get("notifications")):
        note = _dict(note)
        ok = note.get("ok")
        rows.append(
            (
                _e(note.get("channel")),
                _e(note.get("event")),
                '<span class="%s">%s</span>' % ("notify-ok" if ok else "notify-failed", "ok" if ok else "failed"),
                _e(note.get("status")),
                _e(note.get("error")),
            )
        )
    if not rows:
        return '<p class="muted">No notification was sent.</p>'
    return _table(("Channel", "Event", "Result", "Status", "Error"), rows)


def _backups(report) -> str:
    rows = [
        (_e(b.get("role")), "<code>%s</code>" % _e(b.get("path")), _e(_when(b.get("at"))))
        for b in (_dict(b) for b in _list(report.get("backups")))
    ]
    if not rows:
        return '<p class="muted">No backup was recorded.</p>'
    return _table(("Backup", "Path", "At"), rows)


def _follow_ups(report) -> str:
    items = [f for f in _list(report.get("follow_ups")) if f not in (None, "")]
    if not items:
        return '<p class="muted">No follow-up was recorded.</p>'
    return "<ul>%s</ul>" % "".join("<li>%s</li>" % _e(f) for f in items)


def render_html(report: dict) -> str:
    """The report as one self-contained HTML5 document: inline CSS and SVG, no script, nothing fetched."""
    report = _dict(report)
    incident = report.get("incident") or "unknown"
    procedure = report.get("procedure") or "?"
    title = "Incident %s \u2014 Procedure %s" % (incident, procedure)
    subtitle = " \u00b7 ".join(
        str(v) for v in (report.get("procedure_title"), report.get("status") and "run %s" % report["status"]) if v
    )
    metrics_svg = _metrics_svg(_dict(report.get("metrics")))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>%s</title>" % _e(title),
        "<style>%s</style>" % CSS,
        "</head>",
        "<body>",
        "<h1>%s</h1>" % _e(title),
        '<p class="subtitle">%s</p>' % _e(subtitle),
        "<h2>Summary</h2>",
        _summary(report),
        "<h2>Timeline of the steps against their budgets</h2>",
        _timeline_svg(report),
    ]
    if metrics_svg:
        parts += ["<h2>Error rate and p95 latency</h2>", metrics_svg]
    parts += [
        "<h2>Runbook steps against their budgets</h2>",
        _runbook_table(report),
        "<h2>Checklists</h2>",
        _checklists(report),
        "<h2>Notifications</h2>",
        _notifications(report),
        "<h2>Backups</h2>",
        _backups(report),
        "<h2>Follow-ups</h2>",
        _follow_ups(report),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"
