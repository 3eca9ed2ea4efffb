# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's three checklists (before, during and after a rollback) and the follow-ups of a run, each
item done (with its time), open (a human's to do), n/a or failed, worked out from the run record and its
steps. Plain data in and out."""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.plugin_utils.report_budget import iso, step_times

DONE, OPEN, NA, FAILED = "done", "open", "n/a", "failed"


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
    times = step_times(steps)
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
        # "watched for N s once the team is told": not watched yet.
        not_watched = ("skipped", "not watched", "watched for")
        watched = stability and not str(stability.get("detail", "")).startswith(not_watched)
        # A watch after the completion (the watch step) leaves the status page "monitoring"; "stable" resolves it.
        watch_step = "watch" if "watch" in times else "verify"
        resolving = "stable" if watch_step == "watch" else "completed"
        post = [
            notified("Status page updated to resolved", resolving, "statuspage"),
            notified("Team notified of completion", "completed"),
            _item(
                "Monitoring for stability (15 min)",
                (DONE if stability.get("ok") else FAILED) if watched else OPEN,
                iso(times[watch_step][1]) if watched and watch_step in times else None,
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


def stability_samples(record):
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
