# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident report: a run's timeline against the runbook's time budgets, its checklists, and the
report.md / report.json / postmortem.md texts.

Two inputs, both plain data: the ``timeline`` the timeline callback records (steps named after the
roles, with ISO start/end, duration, status and hosts) and the ``record`` the report role publishes
with ``set_stats`` (incident, procedure, versions, who ran it, the decision, backups, notifications,
verification). ``build_report`` joins them into the report dict that report.json holds and every
renderer reads. Nothing here reads files or the network.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.runbook.rollback.plugins.module_utils.incident import is_incident_id

SCHEMA = 1

# The runbook's procedures: title, time estimate (seconds, low-high) and its steps, each with the
# timeline steps (roles, or role_entrypoint) that carry it out and its own estimate. Steps of the
# run that no runbook step names (history, report, ...) are bookkeeping: listed, never budgeted.
ASSESS = ("Assess the situation", ("assess",), (120, 180))
# Preflight, whole or entered through one of its tasks files (Procedure C's lock and release check, the
# fallback attempts of Procedure A).
PREFLIGHT = ("preflight", "preflight_inputs", "preflight_lock", "preflight_target", "preflight_release",
             "preflight_images", "preflight_current")  # fmt: skip
NOTIFY = ("Notify the team", ("notify",), (60, 60))
PROCEDURES = {
    "A": {
        "title": "Code rollback",
        "budget": (300, 600),
        "steps": (
            ASSESS,
            (
                "Step 1: identify the last known good release",
                PREFLIGHT,
                (60, 60),
            ),
            NOTIFY,
            ("Step 2: stop services", ("stop",), (30, 30)),
            ("Step 3: check out the release", ("checkout",), (30, 30)),
            ("Step 4: rebuild and restart in stages", ("staged_restart",), (180, 300)),
            ("Step 5: verify", ("verify",), (120, 120)),
        ),
    },
    "B": {
        "title": "Code and database rollback",
        "budget": (600, 1200),
        "steps": (
            ASSESS,
            (
                "Step 1: identify the backup",
                ("restore_select", "restore_leftovers", "restore_check", *PREFLIGHT),
                (120, 120),
            ),
            NOTIFY,
            ("Step 2: emergency backup", ("backup",), (120, 120)),
            ("Steps 3-4: stop the application, restore the database", ("restore_side", "restore_swap"), (360, 660)),
            ("Step 5: roll back the code", ("checkout", "restore_migrations"), (60, 60)),
            ("Step 6: restart services", ("staged_restart",), (120, 180)),
            ("Step 7: verify", ("verify", "restore_database", "restore_reconcile"), (120, 120)),
        ),
    },
    "C": {
        "title": "Partial rollback (single service)",
        "budget": (180, 300),
        "steps": (
            ASSESS,
            ("Step 1: identify the failed service", ("single_service", *PREFLIGHT), (30, 30)),
            NOTIFY,
            ("Step 2: roll back the service", ("single_service_replace",), (120, 180)),
            ("Step 3: verify the service", ("verify",), (60, 60)),
        ),
    },
    "D": {
        "title": "Emergency shutdown",
        "budget": (60, 60),
        "steps": (
            ASSESS,
            ("Evidence, stop everything, tell the team", ("procedure_d",), (60, 60)),
            NOTIFY,
        ),
    },
}

# Timeline steps that take services away from users (start of the interruption) and those that bring
# them back (its end), per procedure.
INTERRUPTION = {
    "A": (("stop",), ("staged_restart",)),
    "B": (("restore_swap",), ("staged_restart",)),
    "C": (("single_service_replace",), ("single_service_replace",)),
    "D": (("procedure_d",), ()),
}

DONE, OPEN, NA, FAILED = "done", "open", "n/a", "failed"


def parse_iso(text):
    """Epoch seconds of an ISO 8601 UTC time ('2026-11-29T04:00:00.00Z'), or None."""
    if not text:
        return None
    text = str(text).strip().replace("Z", "+00:00")
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        # Python < 3.11 wants exactly 3 or 6 fraction digits.
        match = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$", text)
        if not match:
            return None
        fraction = (match.group(2) or ".0")[1:7].ljust(6, "0")
        try:
            value = datetime.datetime.fromisoformat("%s.%s%s" % (match.group(1), fraction, match.group(3)))
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


def iso(epoch):
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(float(epoch), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def hhmm(epoch):
    if epoch is None:
        return "--:--"
    return datetime.datetime.fromtimestamp(float(epoch), datetime.timezone.utc).strftime("%H:%M:%S")


def duration_text(seconds):
    if seconds is None:
        return "-"
    seconds = float(seconds)
    if seconds < 60:
        return "%.1f s" % seconds
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return "%d min %02d s" % (minutes, rest)
    hours, minutes = divmod(minutes, 60)
    return "%d h %02d min" % (hours, minutes)


def estimate_text(seconds):
    """A time estimate's bound: whole minutes as minutes, the rest in seconds (30 s, 2 min, 7.5 s)."""
    if seconds >= 60 and seconds % 60 == 0:
        return "%d min" % (seconds // 60)
    return ("%d s" % seconds) if seconds == int(seconds) else ("%.1f s" % seconds)


def budget_text(budget):
    """A runbook estimate as the runbook says it: 30 s, 2 min, 3-5 min."""
    if not budget:
        return "-"
    low, high = budget["low"], budget["high"]
    if low == high:
        return estimate_text(high)
    if low % 60 == 0 and high % 60 == 0:
        return "%d-%d min" % (low // 60, high // 60)
    return "%s-%s" % (estimate_text(low), estimate_text(high))


def procedure_of(letter):
    return PROCEDURES.get(str(letter or "").upper())


def step_budgets(letter):
    """Timeline step name -> (runbook step label, {low, high}) for a procedure."""
    proc = procedure_of(letter)
    out = {}
    if proc:
        # The procedure role's own tasks (the attempt loop, the lock) span the whole procedure.
        whole = "procedure_%s" % str(letter).lower()
        out[whole] = (
            "Procedure %s as a whole" % str(letter).upper(),
            {"low": proc["budget"][0], "high": proc["budget"][1]},
        )
        for label, names, (low, high) in proc["steps"]:
            for name in names:
                out[name] = (label, {"low": low, "high": high})
    return out


def budget_rows(letter, steps):
    """The runbook's steps of a procedure with the time the run spent in each, in runbook order.

    A runbook step's time is the sum of its timeline steps' durations; a step the run never reached is
    left out. Timeline steps that no runbook step names come last, without a budget.
    """
    proc = procedure_of(letter)
    by_name = {s["name"]: s for s in steps}
    rows = []
    named = set()
    for label, names, (low, high) in proc["steps"] if proc else ():
        named.update(names)
        ran = [by_name[n] for n in names if n in by_name and by_name[n].get("status") != "skipped"]
        if not ran:
            continue
        spent = round(sum(float(s.get("duration") or 0) for s in ran), 3)
        status = "failed" if any(s.get("status") == "failed" for s in ran) else "ok"
        rows.append(
            {
                "label": label,
                "steps": [s["name"] for s in ran],
                "duration": spent,
                "budget": {"low": low, "high": high},
                "status": status,
                "verdict": "over" if spent > high else "within",
            }
        )
    for s in steps:
        # procedure_<x> spans the procedure: the total line says it; other procedure_* are its bookkeeping.
        frame = s["name"].startswith("procedure_")
        if s["name"] not in named and not frame and s.get("status") != "skipped":
            rows.append(
                {
                    "label": s["name"],
                    "steps": [s["name"]],
                    "duration": float(s.get("duration") or 0),
                    "budget": None,
                    "status": s.get("status"),
                    "verdict": "no budget",
                }
            )
    return rows


def budget_table(letter, steps, total, status):
    """Lines of the end-of-run summary: each runbook step's time against its budget."""
    proc = procedure_of(letter)
    rows = budget_rows(letter, steps)
    if not proc or not rows:
        return []
    width = max(len(r["label"]) for r in rows + [{"label": "total"}])
    title = "RUNBOOK STEPS AGAINST BUDGET (Procedure %s: %s)" % (str(letter).upper(), proc["title"])
    lines = [title, "  %s %12s  %-14s %s" % ("step".ljust(width), "took", "budget", "")]
    for r in rows:
        verdict = "" if r["verdict"] == "no budget" else r["verdict"]
        if r["status"] == "failed":
            verdict = ("failed, " + verdict).rstrip(", ")
        lines.append(
            "  %s %12s  %-14s %s"
            % (r["label"].ljust(width), duration_text(r["duration"]), budget_text(r["budget"]), verdict)
        )
    budget = {"low": proc["budget"][0], "high": proc["budget"][1]}
    lines.append(
        "  %s %12s  %-14s %s"
        % (
            "total".ljust(width),
            duration_text(total),
            budget_text(budget),
            ("over" if float(total) > budget["high"] else "within") + ("" if status == "ok" else ", run failed"),
        )
    )
    return lines


def _step_times(steps):
    out = {}
    for s in steps:
        out[s["name"]] = (parse_iso(s.get("started_at")), parse_iso(s.get("ended_at")), s.get("status"))
    return out


def interruption(letter, steps, run_status, run_ended):
    """What the run saw of the service interruption: from the first step that takes services away to the
    end of the step that brings them back."""
    starts, ends = INTERRUPTION.get(str(letter or "").upper(), ((), ()))
    times = _step_times(steps)
    began = [times[n][0] for n in starts if n in times and times[n][2] != "skipped"]
    if not began:
        return {
            "seconds": 0.0,
            "from": None,
            "to": None,
            "ongoing": False,
            "basis": "no service was stopped by this run",
        }
    began = min(began)
    back = [times[n] for n in ends if n in times and times[n][2] == "ok"]
    letter = str(letter).upper()
    if letter == "D":
        return {
            "seconds": round(run_ended - began, 1),
            "from": iso(began),
            "to": None,
            "ongoing": True,
            "basis": "the stack was shut down at %s and stays down until a rollback brings it back" % hhmm(began),
        }
    if run_status != "ok" or not back:
        return {
            "seconds": round(run_ended - began, 1),
            "from": iso(began),
            "to": None,
            "ongoing": True,
            "basis": "services stopped at %s; the run ended without a verified restart" % hhmm(began),
        }
    restored = max(t[1] for t in back)
    what = "the one service rolled back" if letter == "C" else "the stack"
    return {
        "seconds": round(restored - began, 1),
        "from": iso(began),
        "to": iso(restored),
        "ongoing": False,
        "basis": "%s: from the first service stopped to the last stage healthy" % what,
    }


def _sent(notifications, event, channel=None):
    """(state, note) of a notification event: done when a channel took it, failed when all refused."""
    tried = [
        n for n in notifications or [] if n.get("event") == event and (channel is None or n.get("channel") == channel)
    ]
    if not tried:
        if any(n.get("channel") == channel or channel is None for n in notifications or []):
            return OPEN, "not sent by this run"
        return OPEN, "no channel configured" if channel is None else "%s not configured" % channel
    ok = [n for n in tried if n.get("ok")]
    if ok:
        return DONE, ", ".join(sorted({n.get("channel", "?") for n in ok}))
    return FAILED, "; ".join("%s: %s" % (n.get("channel"), n.get("error") or n.get("status")) for n in tried)


def _item(item, state, at=None, by="automation", note=""):
    return {"item": item, "state": state, "at": at, "by": by, "note": note}


def checklists(letter, steps, record, started, ended):
    """The runbook's three checklists, each item done (with its time), open (a human's to do), n/a or failed."""
    letter = str(letter or "").upper()
    times = _step_times(steps)
    record = record or {}
    decision = record.get("decision") or None
    notes = record.get("notifications") or []
    checks = {c.get("name"): c for c in (record.get("verification") or {}).get("checks") or []}

    def step(names, item, na_note=None, human_note="not done by this run"):
        ran = [(n, times[n]) for n in names if n in times and times[n][2] != "skipped"]
        if not ran:
            if na_note:
                return _item(item, NA, note=na_note)
            return _item(item, OPEN, by="human", note=human_note)
        if any(t[2] == "failed" for _unused, t in ran):
            names = ", ".join(n for n, _unused in ran)
            return _item(item, FAILED, iso(max(t[1] for _unused, t in ran)), note=names + " failed")
        return _item(item, DONE, iso(max(t[1] for _unused, t in ran)), note=", ".join(n for n, _unused in ran))

    def verified(item, names):
        if "verify" not in times or times["verify"][2] == "skipped" or not checks:
            return _item(item, OPEN, by="human", note="not verified by this run")
        at = iso(times["verify"][1])
        picked = [checks[n] for n in names if n in checks]
        if not picked or all(str(c.get("detail", "")).startswith("skipped") for c in picked):
            return _item(item, OPEN, by="human", note="skipped by verify: check by hand")
        bad = [c for c in picked if not c.get("ok")]
        detail = "; ".join("%s: %s" % (c.get("name"), c.get("detail")) for c in (bad or picked))
        return _item(item, FAILED if bad else DONE, at, note=detail)

    def notified(item, event, channel=None):
        state, note = _sent(notes, event, channel)
        at = None
        if state != OPEN:
            at = next((n.get("at") for n in notes if n.get("event") == event and n.get("at")), None)
        return _item(item, state, at, by="automation" if state != OPEN else "human", note=note)

    if decision:
        decided = decision.get("decided_at")
        pre = [
            _item("Issue identified and documented", DONE, decided, note=decision.get("summary", "")),
            _item(
                "Impact assessed (users, revenue, data)",
                DONE,
                decided,
                note="from the metrics; users and revenue still to be estimated by a human",
            ),
            _item(
                "Decision to rollback made",
                DONE,
                decided,
                note="%s (%s)" % (decision.get("decision"), decision.get("priority")),
            ),
        ]
    else:
        pre = [
            _item("Issue identified and documented", OPEN, by="human", note="no assessment in this incident"),
            _item("Impact assessed (users, revenue, data)", OPEN, by="human", note="no assessment in this incident"),
            _item(
                "Decision to rollback made",
                DONE,
                iso(started),
                by="human",
                note="the operator ran Procedure %s" % letter,
            ),
        ]
    first = {"A": ("preflight",), "B": ("restore_select", "preflight"), "C": ("single_service",)}
    event = "shutdown" if letter == "D" else "started"
    pre += [
        notified("Team notified", event),
        notified("Status page updated", event, "statuspage"),
        step(first[letter], "Rollback version identified")
        if letter in first
        else _item("Rollback version identified", NA, note="no rollback in an emergency shutdown"),
        step(
            ("restore_check",),
            "Backup verified (if database rollback needed)",
            na_note=None if letter == "B" else "Procedure %s does not restore the database" % letter,
        ),
    ]
    stop = {"A": ("stop",), "B": ("restore_swap",), "C": ("single_service_replace",), "D": ("procedure_d",)}
    rolled = {"A": ("checkout",), "B": ("restore_swap", "checkout"), "C": ("single_service_replace",)}
    restarted = {"A": ("staged_restart",), "B": ("staged_restart",), "C": ("single_service_replace",)}
    execution = [
        step(
            ("backup",),
            "Emergency backup created",
            na_note=None if letter == "B" else "Procedure %s does not touch the database" % letter,
        ),
        step(stop.get(letter, ()), "Services stopped"),
        step(
            rolled.get(letter, ()),
            "Code rolled back (or database restored)",
            na_note="an emergency shutdown rolls nothing back" if letter == "D" else None,
        ),
        step(
            restarted.get(letter, ()),
            "Services restarted",
            na_note="an emergency shutdown restarts nothing" if letter == "D" else None,
        ),
    ]
    if letter == "D":
        execution += [
            _item(i, NA, note="nothing runs after an emergency shutdown")
            for i in ("Health checks passing", "Critical user flows tested", "Metrics returned to normal")
        ]
    else:
        execution += [
            verified("Health checks passing", ("containers", "health")),
            verified("Critical user flows tested", ("smoke",)),
            verified("Metrics returned to normal", ("error rate", "p95")),
        ]
    if letter == "D":
        post = [
            _item(i, NA, note="the incident is not over: roll back, then resolve")
            for i in (
                "Status page updated to resolved",
                "Team notified of completion",
                "Monitoring for stability (15 min)",
            )
        ]
    else:
        stability = checks.get("stability")
        watched = stability and not str(stability.get("detail", "")).startswith(("skipped", "not watched"))
        post = [
            notified("Status page updated to resolved", "completed", "statuspage"),
            notified("Team notified of completion", "completed"),
            _item(
                "Monitoring for stability (15 min)",
                (DONE if stability.get("ok") else FAILED) if watched else OPEN,
                iso(times["verify"][1]) if watched and "verify" in times else None,
                by="automation" if watched else "human",
                note=(stability.get("detail", "") + "; keep watching to 15 min")
                if watched
                else "watch the error rate (< 1 %) and response times for 15 minutes",
            ),
        ]
    post += [
        _item("Incident documented", DONE, iso(ended), note="this report, report.json and postmortem.md"),
        _item("Root cause analysis started", OPEN, by="human"),
        _item(
            "Post-mortem scheduled", OPEN, by="human", note="Engineering, DevOps and Product, 1 hour, within 24-48 h"
        ),
        _item("Action items created", OPEN, by="human"),
    ]
    return [
        {"name": "Pre-rollback", "items": pre},
        {"name": "Rollback execution", "items": execution},
        {"name": "Post-rollback", "items": post},
    ]


def _samples(record):
    out = []
    decision = record.get("decision") or {}
    for sample in ((decision.get("inputs") or {}).get("samples") or []) + list(record.get("samples") or []):
        if not isinstance(sample, dict) or sample.get("ts") is None:
            continue
        point = {"ts": float(sample["ts"])}
        for key in ("error_rate", "p95_ms"):
            if isinstance(sample.get(key), (int, float)):
                point[key] = float(sample[key])
        if len(point) > 1:
            out.append(point)
    return sorted(out, key=lambda p: p["ts"])


def follow_ups(letter, record, report):
    letter = str(letter or "").upper()
    out = []
    bad = record.get("from_version")
    if report["status"] != "ok":
        out.append(
            "The run failed: %s. Decide the next step (an older release, Procedure D) with the level-2 "
            "contact." % (record.get("reason") or "see the run's output")
        )
    if letter == "D":
        out.append(
            "Investigate from the evidence kept in this incident directory, then roll back (Procedure A or B) "
            "to bring the service back."
        )
    if bad and letter in "ABC":
        out.append(
            "Find the root cause of %s before re-deploying it; mark the fix's release good only after "
            "staging passes." % bad
        )
    if letter == "B":
        out.append(
            "Writes made between the backup and the restore are not in the restored database: reconcile "
            "them from the kept database and tell the users concerned."
        )
    if letter == "C" and record.get("service"):
        out.append(
            "%s is pinned to %s: deploy a fixed release to remove the pin."
            % (record["service"], record.get("to_version"))
        )
    for n in record.get("notifications") or []:
        if not n.get("ok"):
            out.append(
                "The %s notification (%s) failed (%s): tell that audience by hand."
                % (n.get("channel"), n.get("event"), n.get("error") or n.get("status"))
            )
    out.append("Schedule the post-mortem within 24-48 hours and fill in postmortem.md.")
    return out


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
            "samples": _samples(record),
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


# -- Markdown -------------------------------------------------------------------------------------


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
        "| Downtime observed | %s%s: %s |"
        % (
            duration_text(r["downtime"]["seconds"]),
            " and counting" if r["downtime"]["ongoing"] else "",
            _md(r["downtime"]["basis"]),
        ),
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


def safe_incident(incident, fallback):
    """The incident id when it is safe as a directory name, else the fallback."""
    text = str(incident or "")
    return text if is_incident_id(text) else fallback
