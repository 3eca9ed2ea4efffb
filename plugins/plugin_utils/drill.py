# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The quarterly drill's record, as the runbook keeps it: when it was last tested, the results (each step
against its budget, pass or fail, the downtime), and what to improve (the steps over budget and the checks
that failed, compared with the drill before)."""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.plugin_utils.report_budget import budget_text, duration_text

# The drill's own bookkeeping, no step of the runbook's: the steps of roles/report/tasks/drill.yml (which writes the
# record) and of the drill playbook's start, users and end (roles/procedure/tasks/drill_*.yml).
RECORD_STEPS = ("report_drill", "drill_start", "drill_users", "drill_end")


def drill_entry(steps, record, tested_at, downtime=None, previous=None, failure=None):
    """One drill, for the drill log: `steps` is the lookup runbook_steps' result, `record` the run record
    (rollback_run; empty when no procedure ran), `downtime` what users saw (seconds, basis) when the drill measured
    it, `previous` the last entry of the log (or None), `failure` why the drill failed when the run record does
    not say (a broken release that was not detected, a stack left on another release)."""
    verification = record.get("verification") or {}
    release = record.get("release") or {}
    # The record's own step (this role's tasks file) is not part of the drill.
    rows = [{"label": r["label"], "seconds": round(float(r["duration"]), 1), "budget": r.get("budget"),
             "verdict": r["verdict"], "status": r["status"]} for r in steps.get("rows") or []
            if r["label"] not in RECORD_STEPS]  # fmt: skip
    failure = record.get("failure") or failure or None
    passed = bool(verification.get("passed")) and not failure
    interruption = steps.get("interruption") or {}
    entry = {
        "tested_at": tested_at,
        "incident": record.get("incident"),
        "procedure": record.get("procedure"),
        "from_version": release.get("from"),
        "to_version": release.get("to"),
        "result": "pass" if passed else "fail",
        "failure": failure,
        "seconds": round(float(steps.get("seconds") or 0), 1),
        "interruption_seconds": interruption.get("seconds"),
        "downtime": downtime or None,
        "steps": rows,
        "over_budget": [r["label"] for r in rows if r["verdict"] == "over"],
        "failed_checks": [c.get("name") for c in verification.get("checks") or [] if not c.get("ok")],
    }
    entry["compared"] = compare(entry, previous)
    return entry


def compare(entry, previous):
    """What changed since the drill before: the total, each step's time, and what is newly over or fixed."""
    if not previous:
        return None
    before = {r["label"]: r["seconds"] for r in previous.get("steps") or []}
    deltas = [{"label": r["label"], "before": before[r["label"]], "now": r["seconds"],
               "delta": round(r["seconds"] - before[r["label"]], 1)}
              for r in entry["steps"] if r["label"] in before]  # fmt: skip
    old_over, new_over = set(previous.get("over_budget") or []), set(entry["over_budget"])
    old_failed, new_failed = set(previous.get("failed_checks") or []), set(entry["failed_checks"])
    return {
        "previous_tested_at": previous.get("tested_at"),
        "previous_result": previous.get("result"),
        "seconds_before": previous.get("seconds"),
        "seconds_delta": round(entry["seconds"] - float(previous.get("seconds") or 0), 1),
        "steps": deltas,
        "newly_over_budget": sorted(new_over - old_over),
        "back_within_budget": sorted(old_over - new_over),
        "newly_failed_checks": sorted(new_failed - old_failed),
        "checks_fixed": sorted(old_failed - new_failed),
    }


def _signed(seconds):
    return ("+" if seconds > 0 else "-" if seconds < 0 else "±") + duration_text(abs(seconds))


def drill_markdown(entries):
    """The drill record (the latest drill first, then the log of every drill), in Markdown."""
    if not entries:
        return "# Rollback drill record\n\nNo drill on record yet.\n"
    last = entries[-1]
    lines = ["# Rollback drill record", "", "## Last Tested", "",
             "%s: Procedure %s, %s to %s (incident %s): **%s**%s" % (
                 last["tested_at"], last["procedure"] or "none", last["from_version"] or "?", last["to_version"] or "?",
                 last["incident"], last["result"].upper(), " (%s)" % last["failure"] if last["failure"] else ""),
             "", "## Test Results", "", "| step | took | budget | result |", "| --- | --- | --- | --- |"]  # fmt: skip
    for row in last["steps"]:
        verdict = row["verdict"] if row["status"] != "failed" else "failed, " + row["verdict"]
        cells = (row["label"], duration_text(row["seconds"]), budget_text(row["budget"]), verdict)
        lines.append("| %s | %s | %s | %s |" % cells)
    lines += ["", "- total: %s" % duration_text(last["seconds"])]
    if last["downtime"]:
        seen = duration_text(float(last["downtime"].get("seconds") or 0))
        lines.append("- downtime users saw: %s (%s)" % (seen, last["downtime"].get("basis") or "measured"))
    if last["interruption_seconds"] is not None:
        lines.append("- services interrupted by the procedure: %s" % duration_text(float(last["interruption_seconds"])))
    lines.append("- checks failed: %s" % (", ".join(last["failed_checks"]) or "none"))
    lines += ["", "## Improvements", ""]
    lines.append("- steps over budget: %s" % (", ".join(last["over_budget"]) or "none"))
    lines.append("- checks that failed: %s" % (", ".join(last["failed_checks"]) or "none"))
    compared = last["compared"]
    if not compared:
        lines.append("- the first drill on record: nothing to compare with yet")
    else:
        lines.append("- since the drill of %s (%s): total %s, %s" % (
            compared["previous_tested_at"], compared["previous_result"], duration_text(last["seconds"]),
            _signed(compared["seconds_delta"])))  # fmt: skip
        for step in compared["steps"]:
            if step["delta"]:
                lines.append("  - %s: %s, %s" % (step["label"], duration_text(step["now"]), _signed(step["delta"])))
        for key, text in (("newly_over_budget", "newly over budget"), ("back_within_budget", "back within budget"),
                          ("newly_failed_checks", "checks failing now"), ("checks_fixed", "checks fixed")):  # fmt: skip
            if compared[key]:
                lines.append("- %s: %s" % (text, ", ".join(compared[key])))
    lines += ["", "## Drill log", "", "| tested | procedure | result | total | over budget |",
              "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for entry in reversed(entries):
        lines.append("| %s | %s | %s | %s | %s |" % (entry["tested_at"], entry["procedure"] or "-", entry["result"],
                                                     duration_text(entry["seconds"]),
                                                     ", ".join(entry["over_budget"]) or "-"))  # fmt: skip
    return "\n".join(lines) + "\n"
