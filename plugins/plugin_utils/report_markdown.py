# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.md and postmortem.md from the report dict (report.build_report). Every text that may come from
anyone is escaped (_md), so that it renders as the text it is wherever the report is viewed."""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.plugin_utils.report_budget import (
    budget_text,
    duration_text,
    hhmm,
    parse_iso,
    users_text,
)
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_checklists import DONE, FAILED, NA, OPEN

_MD_ESCAPES = {"\\": "\\\\", "|": "\\|", "[": "\\[", "]": "\\]", "`": "\\`",
               "&": "&amp;", "<": "&lt;", ">": "&gt;"}  # fmt: skip
# Every character some reader takes for the end of a line (str.splitlines' list), and the other controls.
_MD_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def _md_char(ch):
    if ch in _MD_BREAKS or ord(ch) < 32 or ord(ch) == 127:
        return " "
    return _MD_ESCAPES.get(ch, ch)


def _md(text):
    """One table cell or line of Markdown from text that may come from anyone (an operator's message, an
    app's version string, a failed command's error): no line break or control character, no table pipe,
    no raw HTML and no link or image syntax, so it renders as the text it is wherever the report is viewed."""
    return "".join(_md_char(ch) for ch in str("" if text is None else text))


MARKS = {DONE: "[x]", FAILED: "[!]", NA: "[-]", OPEN: "[ ]"}


def render_markdown(report):
    r = report
    lines = [
        "# Incident %s: Procedure %s (%s)" % (_md(r["incident"]), r["procedure"], _md(r["procedure_title"])),
        "",
        "| | |",
        "|---|---|",
        "| Result | **%s**%s |" % (r["status"], (": " + _md(r["reason"])) if r["reason"] else ""),
        "| Versions | %s → %s%s |"
        % (
            _md(r["from_version"] or "?"),
            _md(r["to_version"] or "?"),
            (" (service %s)" % _md(r["service"])) if r.get("service") else "",
        ),
        "| Run | %s by %s on %s (controller %s%s) |"
        % (
            _md(r["run"]["id"]),
            _md(r["run"]["by"]),
            _md(r["run"]["target"]),
            _md(r["run"]["controller"]),
            (", AWX job %s" % _md(r["run"]["awx_job_id"])) if r["run"].get("awx_job_id") else "",
        ),
        "| Started / ended | %s / %s (%s; budget %s) |"
        % (_md(r["started_at"]), _md(r["ended_at"]), duration_text(r["duration"]), budget_text(r["budget"])),
        "| Service interruption | %s%s: %s |"
        % (
            duration_text(r["downtime"]["seconds"]),
            " and counting" if r["downtime"]["ongoing"] else "",
            _md(r["downtime"]["basis"]),
        ),
    ]
    if r.get("users"):
        lines.append("| Users without an answer | %s |" % _md(users_text(r["users"])))
    lines += [
        "",
    ]
    d = r.get("decision")
    lines += ["## Decision", ""]
    if d:
        lines.append("%s at %s: %s" % (_md(d["decision"]), _md(d["decided_at"]), _md(d["summary"])))
        lines.append("")
        lines += ["- %s (%s): %s" % (_md(t["id"]), _md(t["priority"]), _md(t["message"])) for t in d["triggers"]]
    else:
        lines.append("No assessment ran for this incident: the operator chose Procedure %s." % r["procedure"])
    lines += [
        "",
        "## Timeline",
        "",
        "| Step | Runbook step | Start | End | Took | Budget | Status |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in r["steps"]:
        lines.append(
            "| %s | %s | %s | %s | %s | %s | %s%s |"
            % (
                _md(s["name"]),
                _md(s["runbook_step"] or "-"),
                hhmm(parse_iso(s["started_at"])),
                hhmm(parse_iso(s["ended_at"])),
                duration_text(s["duration"]),
                budget_text(s["budget"]),
                s["status"],
                ", over budget" if s["over_budget"] else "",
            )
        )
    lines += [
        "",
        "## Runbook steps against budget",
        "",
        "| Runbook step | Took | Budget | Verdict |",
        "|---|---|---|---|",
    ]
    for row in r["runbook_steps"]:
        lines.append(
            "| %s | %s | %s | %s |"
            % (_md(row["label"]), duration_text(row["duration"]), budget_text(row["budget"]), row["verdict"])
        )
    lines.append(
        "| total | %s | %s | %s |"
        % (
            duration_text(r["duration"]),
            budget_text(r["budget"]),
            "-" if not r["budget"] else ("over" if float(r["duration"] or 0) > r["budget"]["high"] else "within"),
        )
    )
    v = r.get("verification")
    lines += ["", "## Verification", ""]
    if v:
        lines.append("Passed." if v["passed"] else "Failed: %s." % _md("; ".join(v["problems"])))
        lines += [
            "- %s: %s %s" % (_md(c.get("name")), "ok" if c.get("ok") else "FAILED", _md(c.get("detail")))
            for c in v.get("checks") or []
        ]
    else:
        lines.append("Not verified by this run.")
    samples = r["metrics"]["samples"]
    if samples:
        rates = [p["error_rate"] for p in samples if "error_rate" in p]
        p95 = [p["p95_ms"] for p in samples if "p95_ms" in p]
        lines += [
            "",
            "## Metrics",
            "",
            "%d samples from %s to %s; error rate peak %s, p95 peak %s."
            % (
                len(samples),
                hhmm(samples[0]["ts"]),
                hhmm(samples[-1]["ts"]),
                ("%.2f %%" % max(rates)) if rates else "-",
                ("%.0f ms" % max(p95)) if p95 else "-",
            ),
        ]
    lines += ["", "## Backups", ""]
    lines += [
        "- %s: %s%s"
        % (_md(b.get("role")), _md(b.get("path") or b.get("id")), (" (%s)" % _md(b["at"])) if b.get("at") else "")
        for b in r["backups"]
    ] or ["None used by this run."]
    for checklist in r["checklists"]:
        lines += ["", "## Checklist: %s" % checklist["name"], ""]
        for i in checklist["items"]:
            lines.append(
                "- %s %s%s%s"
                % (
                    MARKS.get(i["state"], "[ ]"),
                    _md(i["item"]),
                    (" (%s)" % hhmm(parse_iso(i["at"]))) if i["at"] else "",
                    (": " + _md(i["note"])) if i["note"] else "",
                )
            )
    lines += ["", "## Notifications", ""]
    lines += [
        "- %s %s: %s%s"
        % (
            _md(n["channel"]),
            _md(n["event"]),
            "sent" if n["ok"] else "FAILED",
            "" if n["ok"] else " (%s)" % _md(n.get("error") or n.get("status")),
        )
        for n in r["notifications"]
    ] or ["None sent: no channel configured."]
    lines += ["", "## Follow-ups", ""] + ["- [ ] %s" % _md(f) for f in r["follow_ups"]]
    return "\n".join(lines) + "\n"


def render_postmortem(report):
    """The runbook's post-mortem template, filled with what the run knows; the rest left to write."""
    r = report
    d = r.get("decision") or {}
    samples = r["metrics"]["samples"]
    rates = [p["error_rate"] for p in samples if "error_rate" in p]
    down = r["downtime"]
    day = (r["started_at"] or "")[:10]
    restored = down["to"] and hhmm(parse_iso(down["to"]))
    lines = [
        "# Incident Post-Mortem: %s (%s)" % (day, _md(r["incident"])),
        "",
        "## Summary",
        "- What happened? %s was rolled back to %s with Procedure %s (%s)%s. <!-- what users saw -->"
        % (
            _md(r["from_version"] or "?"),
            _md(r["to_version"] or "?"),
            r["procedure"],
            _md(r["procedure_title"]),
            (", after: " + _md(d.get("summary"))) if d.get("summary") else "",
        ),
        "- When did it happen? Detected %s; rollback started %s."
        % (_md(d.get("decided_at") or "(fill in)"), _md(r["started_at"])),
        "- How long was the impact? Interruption seen by the run: %s%s. <!-- add the time before detection -->"
        % (duration_text(down["seconds"]), " and counting" if down["ongoing"] else ""),
        "- How many users affected? <!-- fill in -->",
        "",
        "## Timeline",
        "- %s - Deployment started%s"
        % (
            hhmm(parse_iso(r.get("deployed_at"))) if r.get("deployed_at") else "HH:MM",
            (" (%s)" % _md(r["from_version"])) if r["from_version"] else "",
        ),
        "- %s - Issue detected%s"
        % (
            hhmm(parse_iso(d.get("decided_at"))) if d.get("decided_at") else "HH:MM",
            (": " + _md(d.get("decision"))) if d.get("decision") else "",
        ),
        "- %s - Rollback initiated (Procedure %s)" % (hhmm(parse_iso(r["started_at"])), r["procedure"]),
    ]
    for s in r["steps"]:
        if s["runbook_step"] and s["status"] != "skipped":
            lines.append(
                "  - %s - %s (%s, %s)"
                % (hhmm(parse_iso(s["started_at"])), _md(s["runbook_step"]), s["name"], duration_text(s["duration"]))
            )
    lines += [
        "- %s - %s"
        % (
            restored or "HH:MM",
            "Services restored" if restored else "Services not restored by this run (%s)" % r["status"],
        ),
        "",
        "## Root Cause",
        "- Technical cause: <!-- fill in -->",
        "- Why wasn't it caught? <!-- fill in -->",
        "",
        "## Impact",
        "- Users affected: <!-- number -->",
        "- Downtime: %s min (seen by the run: %s)" % ("%.1f" % (float(down["seconds"] or 0) / 60), _md(down["basis"])),
        "- Error rate peak while sampled: %s" % (("%.2f %%" % max(rates)) if rates else "not sampled"),
        "- Revenue impact: $<!-- amount -->",
        "",
        "## Action Items",
        "- [ ] Add test for <!-- scenario -->",
        "- [ ] Improve monitoring for <!-- metric -->",
        "- [ ] Update deployment checklist",
        "",
        "## Lessons Learned",
        "- What went well?",
        "- What could be improved?",
    ]
    return "\n".join(lines) + "\n"
