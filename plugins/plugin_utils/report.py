# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident report: a run's timeline against the runbook's time budgets, its checklists, and the
report.md / report.json / postmortem.md texts. Controller-side (the timeline callback writes them).

Two inputs, both plain data: the ``timeline`` the timeline callback records (steps named by their step
markers, with ISO start/end, duration, status and hosts) and the ``record`` the report role publishes
with ``set_stats`` (the run record, with who ran it, the decision and the steps' times). ``build_report``
joins them into the report dict that report.json holds and every renderer reads. Nothing here reads files
or the network. The parts, by concern: report_budget (steps, budgets, interruption, time texts),
report_checklists (the three checklists, follow-ups), report_markdown and report_html (the renderers).
"""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.module_utils.incident import is_incident_id

# The report's public names, whichever part holds them (__all__).
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_budget import (
    INTERRUPTION,
    PROCEDURES,
    budget_rows,
    budget_table,
    budget_text,
    duration_text,
    estimate_text,
    hhmm,
    interruption,
    iso,
    parse_iso,
    procedure_of,
    step_budgets,
)
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_checklists import (
    checklists,
    follow_ups,
    stability_samples,
)
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_markdown import render_markdown, render_postmortem

__all__ = [
    "INTERRUPTION", "PROCEDURES", "SCHEMA", "budget_rows", "budget_table", "budget_text", "build_report",
    "checklists", "duration_text", "estimate_text", "follow_ups", "hhmm", "interruption", "iso", "parse_iso",
    "procedure_of", "render_markdown", "render_postmortem", "safe_incident", "step_budgets",
]

SCHEMA = 1


def build_report(record, timeline, controller=None):
    """The report dict (report.json) of a run from its record and its timeline."""
    record = dict(record or {})
    timeline = timeline or {}
    letter = str(record.get("procedure") or "").upper()
    proc = procedure_of(letter) or {"title": "", "budget": None}
    started = parse_iso(timeline.get("started_at")) or 0.0
    ended = parse_iso(timeline.get("ended_at")) or started
    status = "failed" if record.get("result") == "failed" or timeline.get("status") == "failed" else "ok"
    budgets = step_budgets(letter)
    steps = []
    raw = timeline.get("steps") or []
    failed = set()
    if (record.get("verification") or {}).get("passed") is False and any(s["name"] == "verify" for s in raw):
        # Verification ran to its end and found the release broken: that step's outcome is a failure.
        failed.add("verify")
    frame = [s for s in raw if not s["name"].startswith("procedure_")]
    if status == "failed" and not failed and not any(s.get("status") == "failed" for s in frame):
        # The procedure's rescue turned the failure into its own (its frame failed): the step that failed
        # is the last one in which a failure was rescued.
        rescued = [s for s in frame if s.get("rescued")]
        if rescued:
            failed.add(max(rescued, key=lambda s: parse_iso(s.get("ended_at")) or 0)["name"])
    tsteps = [dict(s, status="failed") if s["name"] in failed else s for s in raw]
    for s in tsteps:
        label, budget = budgets.get(s["name"], (None, None))
        st = parse_iso(s.get("started_at"))
        steps.append(
            {
                "name": s["name"],
                "runbook_step": label,
                "started_at": s.get("started_at"),
                "ended_at": s.get("ended_at"),
                "offset": round(st - started, 3) if st is not None else 0.0,
                "duration": s.get("duration"),
                "status": s.get("status"),
                "budget": budget,
                "over_budget": bool(budget and float(s.get("duration") or 0) > budget["high"]),
                "hosts": s.get("hosts") or [],
            }
        )
    down = interruption(letter, tsteps, status, ended)
    decision = record.get("decision") or None
    report = {
        "schema": SCHEMA,
        "incident": record.get("incident"),
        "procedure": letter,
        "procedure_title": proc["title"],
        "playbook": timeline.get("playbook"),
        "status": status,
        "reason": record.get("reason") or "",
        "from_version": record.get("from_version"),
        "to_version": record.get("to_version"),
        "service": record.get("service"),
        "deployed_at": record.get("deployed_at"),
        "run": {
            "id": record.get("run_id"),
            "by": record.get("by"),
            "target": record.get("target"),
            "controller": controller,
            "awx_job_id": record.get("awx_job_id"),
        },
        "started_at": timeline.get("started_at"),
        "ended_at": timeline.get("ended_at"),
        "duration": timeline.get("duration"),
        "budget": {"low": proc["budget"][0], "high": proc["budget"][1]} if proc["budget"] else None,
        "steps": steps,
        "runbook_steps": budget_rows(letter, tsteps),
        "downtime": down,
        # What users saw, probed while the run went on (None when not probed).
        "users": record.get("users") or None,
        "decision": None
        if not decision
        else {
            "decided_at": decision.get("decided_at"),
            "decision": decision.get("decision"),
            "priority": decision.get("priority"),
            "procedure": decision.get("procedure"),
            "summary": decision.get("summary"),
            "triggers": [
                {"id": t.get("id"), "priority": t.get("priority"), "message": t.get("message")}
                for t in decision.get("triggers") or []
                if isinstance(t, dict)
            ],
        },
        "metrics": {
            "samples": stability_samples(record),
            "rollback_at": parse_iso(down["from"]) if down["from"] else started,
            "restored_at": parse_iso(down["to"]) if down["to"] else None,
        },
        "backups": list(record.get("backups") or [])
        + [{"role": "kept database", "id": db, "path": None, "at": None} for db in record.get("kept_databases") or []],
        "checklists": checklists(letter, tsteps, record, started, ended),
        "notifications": [
            {k: n.get(k) for k in ("channel", "event", "ok", "status", "error", "at")}
            for n in record.get("notifications") or []
        ],
        "verification": None
        if record.get("verification") is None
        else {
            "passed": bool(record["verification"].get("passed")),
            "problems": list(record["verification"].get("problems") or []),
            "checks": list(record["verification"].get("checks") or []),
        },
        "follow_ups": [],
    }
    report["follow_ups"] = follow_ups(letter, record, report)
    return report


def safe_incident(incident, fallback):
    """The incident id when it is safe as a directory name, else the fallback."""
    text = str(incident or "")
    return text if is_incident_id(text) else fallback
