# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run's steps against the runbook's time budgets: each procedure's steps and estimates, the budget table
of a run, the service interruption it saw, and the time texts every part of the report uses. Plain data in
and out: no file, no network."""

from __future__ import annotations

import datetime
import re

# The runbook's procedures: title, time estimate (seconds, low-high) and its steps, each with the
# timeline steps (roles, or role_entrypoint) that carry it out and its own estimate. Steps of the
# run that no runbook step names (history, report, ...) are bookkeeping: listed, never budgeted.
# Assessing is the assess role, and under auto.yml and the drill taking its decision (roles/procedure/tasks/auto.yml).
ASSESS = ("Assess the situation", ("assess", "auto_decide"), (120, 180))
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
            ("Steps 3-4: stop the application, restore the database",
             ("restore_side", "staged_restart_prepare", "restore_swap"), (360, 660)),
            ("Step 5: roll back the code", ("checkout", "restore_migrations"), (60, 60)),
            ("Step 6: restart services", ("staged_restart_prepared", "staged_restart"), (120, 180)),
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


def step_times(steps):
    out = {}
    for s in steps:
        out[s["name"]] = (parse_iso(s.get("started_at")), parse_iso(s.get("ended_at")), s.get("status"))
    return out


def interruption(letter, steps, run_status, run_ended):
    """What the run saw of the service interruption: from the first step that takes services away to the
    end of the step that brings them back."""
    starts, ends = INTERRUPTION.get(str(letter or "").upper(), ((), ()))
    times = step_times(steps)
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


def users_text(users):
    """What users saw, from the probe of the user-facing endpoints (runbook.rollback.user_probe's figures):
    ``2.3 s (longest gap 1.9 s; 12 of 600 probes unanswered, 3 answered 5xx; probed every 0.25 s at 4 URLs)``."""
    users = users if isinstance(users, dict) else {}
    probes = int(users.get("probes") or 0)
    count = int(users.get("url_count") or 0)
    plural = "" if count == 1 else "s"
    how = "probed every %g s at %d URL%s" % (float(users.get("interval") or 0), count, plural)
    if not probes:
        return "not measured (the probe made no round)"
    seconds = float(users.get("without_answer_seconds") or 0)
    unanswered, errors = int(users.get("unanswered") or 0), int(users.get("answered_5xx") or 0)
    if not seconds and not unanswered and not errors:
        return "none: all %d probes answered (%s)" % (probes, how)
    return "%s%s (longest gap %s; %d of %d probes unanswered, %d answered 5xx; %s)" % (
        duration_text(seconds), " and counting" if users.get("ongoing") else "",
        duration_text(float(users.get("longest_gap_seconds") or 0)), unanswered, probes, errors, how)  # fmt: skip
