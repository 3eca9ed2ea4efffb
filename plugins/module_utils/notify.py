# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What runbook.rollback.notify sends: one context per event, and the body each channel gets from it.

Pure functions, no I/O. No builder ever sees a secret (webhook URL, API key, routing key): the action adds
those to the call that sends, and nowhere else. The context is a plain dict made by ``context()``:

    event        started | progress | completed | stable | failed | shutdown | escalation
    incident     the incident id (letters, digits, dot, dash, underscore), used in dedup keys and paths
    project, host, procedure, from_version, to_version, run_id, lead
    eta          "14:05 UTC (~10 min)" for started, from the procedure's time budget; for progress, the revised
                 one (eta_minutes from now); "" when unknown
    message      what the caller wants said (the description of a start, the reason of a shutdown, what
                 failed, ...)
    step         progress: the runbook step the rollback is in ("" when unknown)
    elapsed_seconds  progress: how long the rollback has run
    postmortem   completed: when the post-mortem is ("2026-12-04 14:00 UTC")
    watch_seconds  completed: how long the stability watch that follows lasts (0: none follows, the completion
                 closes the incident); stable: how long it lasted
    public_message  what the public status page says instead of the built-in sentence, if set
    state_line   which service runs which release after a failure
    verification "passed" / "failed: ..." for completed
    duration_seconds  how long the rollback took (completed), or None
    escalation   {"level", "name", "reasons", "contacts"} for the escalation event, else None
    time         ISO 8601 UTC time of the event
"""

from __future__ import annotations

import datetime
import re

# stable: the stability watch after a completed rollback ended well (an unstable one is told as failed).
EVENTS = ("started", "progress", "completed", "stable", "failed", "shutdown", "escalation")
CHANNELS = ("slack", "statuspage", "pagerduty", "webhook")
COMPONENT_STATES = ("operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance")
INCIDENT_STATES = ("investigating", "identified", "monitoring", "resolved")
# Statuspage incident status per event; completed resolves the incident, unless a stability watch follows it
# (then "monitoring", and stable resolves it).
INCIDENT_STATUS = {
    "started": "identified",
    "progress": "identified",
    "failed": "investigating",
    "shutdown": "identified",
    "escalation": "investigating",
    "completed": "resolved",
    "stable": "resolved",
}
# Component status per event when the caller gives none (notify_statuspage_component_states overrides).
COMPONENT_STATUS = {
    "started": "partial_outage",
    "progress": "partial_outage",
    "failed": "major_outage",
    "shutdown": "major_outage",
    "escalation": "major_outage",
    "completed": "operational",
    "stable": "operational",
}
# Where each channel sends by default, when its settings name no URL.
STATUSPAGE_API = "https://api.statuspage.io/v1"
PAGERDUTY_EVENTS = "https://events.pagerduty.com/v2/enqueue"
# The answers that mean a channel took the event.
OK_STATUSES = {
    "slack": (200,),
    "statuspage": (200, 201),
    "pagerduty": (200, 202),
    "webhook": (200, 201, 202, 204),
}

# The options of runbook.rollback.notify (an action plugin: it runs on the controller). The values worked
# out at run time (levels, flags, durations) are raw: a bad one is reported as a failed notification
# instead of failing the rollback.
ARGUMENT_SPEC = dict(
    event=dict(type="str", required=True, choices=list(EVENTS)),
    incident=dict(type="str", default=""),
    text=dict(type="str", default=""),
    public_message=dict(type="str", default=""),
    project=dict(type="str", default=""),
    host=dict(type="str", default=""),
    procedure=dict(type="str", default=""),
    from_version=dict(type="str", default=""),
    to_version=dict(type="str", default=""),
    run_id=dict(type="str", default=""),
    lead=dict(type="str", default=""),
    budgets=dict(type="dict", default={}),
    state_line=dict(type="str", default=""),
    verification=dict(type="str", default=""),
    duration_seconds=dict(type="raw"),
    postmortem=dict(type="str", default=""),
    watch_seconds=dict(type="raw", default=0),
    progress_minutes=dict(type="raw", default=0),
    signals=dict(type="raw", default=[]),
    max_downtime_minutes=dict(type="raw"),
    escalate=dict(type="bool", default=True),
    escalation_level=dict(type="raw", default=0),
    escalation_reason=dict(type="str", default=""),
    escalated_level=dict(type="raw", default=1),
    escalation_levels=dict(type="list", elements="raw", default=[]),
    fell_back=dict(type="raw", default=False),
    data_at_risk=dict(type="raw", default=False),
    downtime_seconds=dict(type="raw"),
    incident_started_at=dict(type="str", default=""),
    channels=dict(type="list", elements="str", default=list(CHANNELS)),
    slack=dict(type="dict", no_log=True),
    statuspage=dict(type="dict", no_log=True),
    pagerduty=dict(type="dict", no_log=True),
    webhook=dict(type="dict", no_log=True),
    statuspage_component_states=dict(type="dict", default={}),
    incidents_dir=dict(type="path", required=True),
    timeout=dict(type="float", default=5.0),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    client_cert=dict(type="path"),
    client_key=dict(type="path", no_log=False),
)

ICONS = {"started": "🚨", "progress": "⏳", "completed": "✅", "stable": "🟢", "failed": "❌", "shutdown": "🚨",
         "escalation": "⚠️"}  # fmt: skip
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+")


def _text(value):
    return "" if value is None else str(value).strip()


def duration_text(seconds):
    """``4m12s``, ``1h05m``, ``45s``; "" for None."""
    if seconds is None or seconds == "":
        return ""
    seconds = int(float(seconds))
    if seconds >= 3600:
        return "%dh%02dm" % (seconds // 3600, (seconds % 3600) // 60)
    if seconds >= 60:
        return "%dm%02ds" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


def incident_id(*candidates):
    """The first non-empty candidate made safe for a file name and a dedup key; "unnamed" if none."""
    for candidate in candidates:
        text = _UNSAFE.sub("-", _text(candidate)).strip("-.")[:64]
        if text:
            return text
    return "unnamed"


def eta_text(now_epoch, budget_minutes):
    """When a rollback started at ``now_epoch`` should be done: ``"14:05 UTC (~10 min)"``; "" if unknown."""
    if budget_minutes in (None, "") or now_epoch in (None, ""):
        return ""
    minutes = float(budget_minutes)
    if minutes <= 0:
        return ""
    done = datetime.datetime.fromtimestamp(float(now_epoch) + minutes * 60, tz=datetime.timezone.utc)
    return "%s UTC (~%g min)" % (done.strftime("%H:%M"), minutes)


def context(raw):
    """Normalise what the role gathered into the context every builder takes (see the module doc)."""
    if not isinstance(raw, dict):
        raise ValueError("the notification context must be a dict, got %r" % (raw,))
    event = _text(raw.get("event"))
    if event not in EVENTS:
        raise ValueError("event must be one of %s, got %r" % (", ".join(EVENTS), event))
    now = raw.get("now_epoch")
    procedure = _text(raw.get("procedure"))
    budgets = raw.get("budgets") or {}
    ctx = {
        "event": event,
        "incident": incident_id(raw.get("incident")),
        "project": _text(raw.get("project")),
        "host": _text(raw.get("host")),
        "procedure": procedure,
        "from_version": _text(raw.get("from_version")),
        "to_version": _text(raw.get("to_version")),
        "run_id": _text(raw.get("run_id")),
        "lead": _text(raw.get("lead")) or "unknown",
        "eta": "",
        "message": _text(raw.get("message")),
        "public_message": _text(raw.get("public_message")),
        "state_line": _text(raw.get("state_line")),
        "verification": _text(raw.get("verification")),
        "step": _text(raw.get("step")) if event == "progress" else "",
        "elapsed_seconds": None,
        "postmortem": _text(raw.get("postmortem")) if event == "completed" else "",
        "duration_seconds": None,
        "watch_seconds": 0,
        "escalation": None,
        "time": "",
    }
    if event == "started":
        ctx["eta"] = eta_text(now, budgets.get(procedure))
    elif event == "progress":
        ctx["eta"] = eta_text(now, raw.get("eta_minutes"))
        if raw.get("elapsed_seconds") not in (None, ""):
            ctx["elapsed_seconds"] = int(float(raw["elapsed_seconds"]))
    if event in ("completed", "stable") and raw.get("watch_seconds") not in (None, ""):
        try:
            ctx["watch_seconds"] = max(0, int(float(raw["watch_seconds"])))
        except (TypeError, ValueError):
            raise ValueError("watch_seconds must be a number of seconds, got %r" % (raw["watch_seconds"],)) from None
    if raw.get("duration_seconds") not in (None, ""):
        ctx["duration_seconds"] = int(float(raw["duration_seconds"]))
    if now not in (None, ""):
        ctx["time"] = datetime.datetime.fromtimestamp(float(now), tz=datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    if event == "escalation":
        ctx["escalation"] = escalation_of(raw.get("escalation"))
    return ctx


def escalation_of(entry):
    """An escalation as the context holds it: ``{"level", "name", "reasons", "contacts"}``."""
    entry = entry or {}
    return {
        "level": int(entry.get("level") or 1),
        "name": _text(entry.get("name")),
        "reasons": [_text(r) for r in entry.get("reasons") or [] if _text(r)],
        "contacts": [_text(c) for c in entry.get("contacts") or [] if _text(c)],
    }


def _versions(ctx):
    if ctx["from_version"] and ctx["to_version"]:
        return "%s → %s" % (ctx["from_version"], ctx["to_version"])
    return ctx["to_version"] or ctx["from_version"]


def headline(ctx):
    """The one-line summary every channel starts with (Slack's text, PagerDuty's summary)."""
    event = ctx["event"]
    procedure = "Procedure %s" % ctx["procedure"] if ctx["procedure"] else ""
    what = ", ".join(x for x in (procedure, _versions(ctx)) if x)
    where = " on %s" % ctx["project"] if ctx["project"] else ""
    if event == "started":
        line = "ROLLBACK IN PROGRESS%s: %s" % (where, what or "rollback")
        if ctx["message"]:
            line += " (%s)" % ctx["message"]
        return "%s. ETA: %s. Led by: %s" % (line, ctx["eta"] or "unknown", ctx["lead"])
    if event == "progress":
        line = "ROLLBACK STILL IN PROGRESS%s: %s" % (where, what or "rollback")
        running = ", ".join(x for x in (
            "%s in" % duration_text(ctx["elapsed_seconds"]) if ctx["elapsed_seconds"] is not None else "",
            "now: %s" % ctx["step"] if ctx["step"] else "") if x)  # fmt: skip
        if running:
            line += " (%s)" % running
        return "%s. Revised ETA: %s. Led by: %s" % (line, ctx["eta"] or "unknown", ctx["lead"])
    if event == "completed":
        parts = ["ROLLBACK COMPLETE%s. Services restored" % where]
        parts.append("Current version: %s" % (ctx["to_version"] or "unknown"))
        if ctx["verification"]:
            parts.append("Verification: %s" % ctx["verification"])
        if ctx["duration_seconds"] is not None:
            parts.append("Took %s" % duration_text(ctx["duration_seconds"]))
        if ctx["watch_seconds"]:
            parts.append("Monitoring for stability for %s; its outcome follows" % duration_text(ctx["watch_seconds"]))
        else:
            parts.append("Monitoring for stability")
        if ctx["postmortem"]:
            parts.append("Post-mortem scheduled for %s" % ctx["postmortem"])
        return ". ".join(parts)
    if event == "stable":
        watched = " for %s" % duration_text(ctx["watch_seconds"]) if ctx["watch_seconds"] else ""
        line = "STABLE%s: %s held through the stability watch%s" % (where, ctx["to_version"] or "the release", watched)
        if ctx["message"]:
            line += " (%s)" % ctx["message"]
        return "%s. Incident resolved" % line
    if event == "failed":
        return ": ".join(x for x in ("ROLLBACK FAILED%s" % where, what, ctx["message"]) if x)
    if event == "shutdown":
        return "EMERGENCY SHUTDOWN%s: %s" % (where, ctx["message"] or "reason not given")
    esc = ctx["escalation"]
    line = "ESCALATION%s to level %d (%s)" % (where, esc["level"], esc["name"] or "unnamed")
    why = "; ".join(esc["reasons"]) or ctx["message"]
    return "%s: %s" % (line, why) if why else line


def _details(ctx):
    """(label, value) pairs worth showing for this event, empty ones left out."""
    event = ctx["event"]
    rows = [("Incident", ctx["incident"]), ("Procedure", ctx["procedure"])]
    if event == "completed":
        rows += [
            ("Version", ctx["to_version"]),
            ("Verification", ctx["verification"]),
            ("Duration", duration_text(ctx["duration_seconds"])),
            ("Post-mortem", ctx["postmortem"]),
            ("Stability watch", duration_text(ctx["watch_seconds"]) if ctx["watch_seconds"] else ""),
        ]
    elif event == "stable":
        rows += [
            ("Version", ctx["to_version"]),
            ("Watched for", duration_text(ctx["watch_seconds"]) if ctx["watch_seconds"] else ""),
        ]
    else:
        rows.append(("Versions", _versions(ctx)))
    if event == "started":
        rows += [("ETA", ctx["eta"] or "unknown"), ("Lead", ctx["lead"])]
    if event == "progress":
        rows += [
            ("Running for", duration_text(ctx["elapsed_seconds"])),
            ("Step", ctx["step"]),
            ("Revised ETA", ctx["eta"] or "unknown"),
            ("Lead", ctx["lead"]),
        ]
    if event == "failed":
        rows.append(("Stack state", ctx["state_line"]))
    if event == "escalation":
        esc = ctx["escalation"]
        rows += [
            ("Level", "%d: %s" % (esc["level"], esc["name"])),
            ("Contacts", ", ".join(esc["contacts"])),
            ("Stack state", ctx["state_line"]),
        ]
    return [(label, value) for label, value in rows if value]


def slack_text(text):
    """Text as Slack shows it literally: `&`, `<` and `>` escaped as Slack asks, so that nothing in a message,
    a version string or an error becomes a mention (`<!channel>`), a link (`<javascript:...|click>`) or
    markup. Slack's own formatting characters (`*`, `_`) only change how the text looks."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(ctx, channel=None):
    """An incoming-webhook body: ``text`` (the fallback Slack shows in notifications) and Block Kit blocks.
    Every value in it is escaped (slack_text)."""
    text = slack_text("%s %s" % (ICONS[ctx["event"]], headline(ctx)))
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
    ]
    fields = [{"type": "mrkdwn", "text": "*%s*\n%s" % (label, slack_text(value))} for label, value in _details(ctx)]
    # Slack takes at most 10 fields per section.
    for start in range(0, len(fields), 10):
        blocks.append({"type": "section", "fields": fields[start : start + 10]})
    if ctx["message"] and ctx["event"] in ("completed", "escalation", "progress"):
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": slack_text(ctx["message"])}})
    footer = " · ".join(x for x in (ctx["host"], "run " + ctx["run_id"] if ctx["run_id"] else "", ctx["time"]) if x)
    if footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_text(footer)}]})
    payload = {"text": text, "blocks": blocks}
    if channel:
        payload["channel"] = channel
    return payload


def _public_body(ctx):
    """What the status page's readers see: no versions, names or contacts."""
    if ctx["public_message"]:
        return ctx["public_message"]
    service = ctx["project"] or "The service"
    event = ctx["event"]
    if event == "started":
        eta = ctx["eta"].split(" (")[0] if ctx["eta"] else ""
        return "%s is affected by a recent release, which we are rolling back.%s" % (
            service,
            " We expect service to be back by %s." % eta if eta else "",
        )
    if event == "progress":
        eta = ctx["eta"].split(" (")[0] if ctx["eta"] else ""
        return "We are still rolling back the release that affects %s.%s" % (
            service,
            " We now expect service to be back by %s." % eta if eta else "",
        )
    if event == "completed":
        return "%s runs its previous stable release again and works normally. We keep monitoring it " \
               "and are looking for the root cause." % service  # fmt: skip
    if event == "stable":
        return "%s has worked normally since the fix, and this incident is resolved." % service
    if event == "failed":
        return "Restoring %s has not worked yet. Our engineers are investigating." % service
    if event == "shutdown":
        return "%s is offline for emergency maintenance." % service
    return "More engineers are now working on restoring %s." % service


def statuspage_incident(ctx, component_ids=(), component_status=None, create=True):
    """The body of Statuspage's incident create (POST) or update (PATCH).

    ``component_status`` defaults to COMPONENT_STATUS for the event; the incident's status follows
    INCIDENT_STATUS (completed resolves it, with every component operational; when a stability watch follows,
    it is "monitoring" until stable resolves it).
    """
    event = ctx["event"]
    if event == "progress":
        # Only the news: the incident's status and its components stay as the last event set them (an
        # escalation's major outage is not undone by an update).
        return {"incident": {"body": _public_body(ctx), "deliver_notifications": True}}
    status = component_status or COMPONENT_STATUS[event]
    if status not in COMPONENT_STATES:
        raise ValueError("component status must be one of %s, got %r" % (", ".join(COMPONENT_STATES), status))
    if event in ("completed", "stable"):
        status = "operational"
    component_ids = [str(c) for c in component_ids or []]
    incident = {
        "status": "monitoring" if event == "completed" and ctx["watch_seconds"] else INCIDENT_STATUS[event],
        "body": _public_body(ctx),
        "deliver_notifications": True,
    }
    if create:
        incident["name"] = "%s: service disruption (%s)" % (ctx["project"] or "service", ctx["incident"])
    if component_ids:
        incident["component_ids"] = component_ids
        incident["components"] = {c: status for c in component_ids}
    return {"incident": incident}


def pagerduty_dedup_key(ctx):
    return "runbook-rollback-%s" % ctx["incident"]


def pagerduty_event(ctx, severity=None):
    """An Events API v2 event without its routing key, or None for an event PagerDuty is not told of.

    failed, escalation and shutdown trigger (one alert per incident: the dedup key is the incident's);
    completed resolves it (stable again: resolving twice is harmless, and an alert the completion could not
    resolve is); started and progress page nobody. An unstable watch is told as failed: it triggers anew.
    """
    event = ctx["event"]
    dedup = pagerduty_dedup_key(ctx)
    if event in ("completed", "stable"):
        return {"event_action": "resolve", "dedup_key": dedup}
    if event in ("started", "progress"):
        return None
    if severity is None:
        if event == "shutdown" or (event == "escalation" and ctx["escalation"]["level"] >= 3):
            severity = "critical"
        else:
            severity = "error"
    details = {
        "incident": ctx["incident"],
        "event": event,
        "procedure": ctx["procedure"],
        "from_version": ctx["from_version"],
        "to_version": ctx["to_version"],
        "message": ctx["message"],
        "stack_state": ctx["state_line"],
        "run_id": ctx["run_id"],
        "lead": ctx["lead"],
    }
    if ctx["escalation"]:
        details["escalation_level"] = ctx["escalation"]["level"]
        details["escalation_name"] = ctx["escalation"]["name"]
        details["escalation_reasons"] = ctx["escalation"]["reasons"]
        details["contacts"] = ctx["escalation"]["contacts"]
    payload = {
        "summary": headline(ctx)[:1024],
        "source": ctx["host"] or ctx["project"] or "runbook.rollback",
        "severity": severity,
        "class": "rollback " + event,
        "custom_details": {k: v for k, v in details.items() if v not in ("", None, [])},
    }
    if ctx["project"]:
        payload["component"] = ctx["project"]
    if ctx["procedure"]:
        payload["group"] = "procedure " + ctx["procedure"]
    if ctx["time"]:
        payload["timestamp"] = ctx["time"]
    return {"event_action": "trigger", "dedup_key": dedup, "payload": payload}


def webhook_payload(ctx):
    """The generic webhook's JSON: the whole context plus the headline, for any receiver to route."""
    body = {"source": "runbook.rollback", "text": headline(ctx)}
    body.update(ctx)
    return body


def answer_delivery(channel, event, answer, ok_statuses, note="", secrets=()):
    """What a report may say about one call made with httpclient.request (``answer``):
    ``{channel, event, ok, status, error}``. The error is short and has no URL, and no value of ``secrets``."""
    status = answer.get("status")
    status = status if isinstance(status, int) else -1
    ok = status in tuple(ok_statuses)
    if ok:
        error = note
    elif status > 0:
        error = "HTTP %d" % status
    else:
        error = _URL.sub("<url>", _text(answer.get("error")))
        if "timed out" in error.lower():
            error = "timed out"
        for secret in secrets:
            if secret:
                error = error.replace(secret, "<secret>")
        error = error[:200] or "no answer"
    return {"channel": channel, "event": event, "ok": ok, "status": status, "error": error}


def delivery_line(entry, with_event=False):
    """``slack: sent`` / ``slack: failed (HTTP 500)`` for one entry of rollback_notifications.

    ``with_event`` appends the event in brackets, for a run that sent more than one.
    """
    what = "%s: %s" % (entry.get("channel", "?"), "sent" if entry.get("ok") else "failed")
    if entry.get("error"):
        what += " (%s)" % entry["error"]
    if with_event:
        what += " [%s]" % entry.get("event", "?")
    return what
