# Copyright: runbook.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What runbook.rollback.notify sends, worked out before anything is sent: pure functions, no I/O.

plan() takes the action's options, what the incident's notify.json held and the time, and returns the
batches to send (the event, then the escalation it calls for), each as a context and its channels.
calls() turns one batch into HTTP calls; reached_level() and state_record() say what notify.json keeps
once the calls are answered. The action plugin does the reading, the sending and the writing.
"""

from __future__ import annotations

import re

from ansible_collections.runbook.rollback.plugins.module_utils import escalation, notify

# A channel is on when the settings it cannot do without are there.
REQUIRED = {
    "slack": ("webhook_url",),
    "statuspage": ("page_id", "api_key"),
    "pagerduty": ("routing_key",),
    "webhook": ("url",),
}


class NotifyInputError(ValueError):
    """An option the notification cannot be worked out from."""


def configured(settings, allowed=notify.CHANNELS):
    """The channels, in the usual order, that are allowed and have their required settings."""
    allowed = list(allowed or [])
    unknown = sorted(set(allowed) - set(notify.CHANNELS))
    if unknown:
        raise NotifyInputError("unknown channel %s (known: %s)" % (", ".join(unknown), ", ".join(notify.CHANNELS)))
    return [
        channel
        for channel in notify.CHANNELS
        if channel in allowed and all((settings.get(channel) or {}).get(key) for key in REQUIRED[channel])
    ]


def _level(value, name, lowest):
    try:
        level = int(float(value or 0))
    except (TypeError, ValueError):
        raise NotifyInputError("%s must be a level from %d to 4, got %r" % (name, lowest, value)) from None
    if not lowest <= level <= 4:
        raise NotifyInputError("%s must be a level from %d to 4, got %r" % (name, lowest, value))
    return level


def _among(configured_channels, wanted):
    """The configured channels an escalation level names, or all of them when it names none."""
    return [c for c in configured_channels if c in wanted] if wanted else list(configured_channels)


def plan(params, kept_state, now_epoch):
    """What to send for ``params`` (the action's options, channel settings included).

    ``kept_state`` is what <incident>/notify.json held (its text, or None). Returns a dict:
    ``incident`` (the safe id), ``clock`` (escalation.incident_clock), ``level`` (the level the event calls
    for), ``configured`` (channels), ``batches`` ([(context, channels), ...]: the event, then an escalation
    when it calls for a level above the one this incident reached) and ``escalation`` (the escalation
    event's own entry, or None).
    """
    event = params["event"]
    try:
        clock = escalation.incident_clock(kept_state, now_epoch, params.get("incident_started_at") or None, event)
        downtime = params.get("downtime_seconds")
        if downtime is None or downtime == "":
            downtime = clock["downtime_seconds"]
        level = escalation.escalation(
            failed=event == "failed",
            fell_back=params.get("fell_back"),
            data_at_risk=params.get("data_at_risk"),
            downtime_seconds=downtime,
            signals=params.get("signals"),
            max_downtime_minutes=params.get("max_downtime_minutes"),
        )
    except ValueError as exc:
        raise NotifyInputError(str(exc)) from None
    reached_before = max(clock["escalated_level"], _level(params.get("escalated_level") or 1, "escalated_level", 1))
    levels = params.get("escalation_levels") or []
    reason = (params.get("escalation_reason") or "").strip()
    own = None
    try:
        if event == "escalation":
            chosen = _level(params.get("escalation_level"), "escalation_level", 0) or level["level"]
            own = escalation.escalation_level_entry(levels, max(chosen, 1))
            own["reasons"] = [reason] if reason else level["reasons"]
        raw = {key: params.get(key) for key in (
            "event", "incident", "project", "host", "procedure", "from_version", "to_version", "run_id", "lead",
            "budgets", "public_message", "state_line")}  # fmt: skip
        raw.update(
            message=params.get("text"),
            now_epoch=now_epoch,
            verification=params.get("verification") if event == "completed" else "",
            duration_seconds=params.get("duration_seconds") if event == "completed" else "",
            postmortem=params.get("postmortem") if event == "completed" else "",
            watch_seconds=params.get("watch_seconds") if event in ("completed", "stable") else 0,
            escalation=own,
        )
        primary = notify.context(raw)
    except (TypeError, ValueError) as exc:
        raise NotifyInputError(str(exc)) from None
    on = configured(params, params.get("channels"))
    batches = []
    primary_channels = _among(on, own["channels"]) if own else on
    if primary_channels:
        batches.append((primary, primary_channels))
    if params.get("escalate", True) and event != "escalation" and level["level"] > reached_before:
        try:
            auto = escalation.escalation_level_entry(levels, level["level"])
        except ValueError as exc:
            raise NotifyInputError(str(exc)) from None
        auto["reasons"] = ([reason] if reason else []) + level["reasons"]
        auto_channels = _among(on, auto["channels"])
        if auto_channels:
            batches.append((dict(primary, event="escalation", escalation=notify.escalation_of(auto)), auto_channels))
    return {
        "incident": primary["incident"],
        "context": primary,
        "clock": clock,
        "level": level,
        "configured": on,
        "batches": batches,
        "escalation": own,
    }


def calls(ctx, channels, settings, component_states=None, statuspage_id=""):
    """The HTTP calls of one batch: ``[{channel, method, url, headers, body, ok}, ...]``.

    ``settings`` holds each channel's dict (URLs, keys: these go into the call and nowhere else).
    PagerDuty hears of nothing that has only started. ``statuspage_id`` is the status page incident this
    incident already has: the event updates it instead of creating another.
    """
    out = []
    for channel in channels:
        conf = settings.get(channel) or {}
        if channel == "slack":
            out.append(dict(method="POST", url=conf["webhook_url"], headers={},
                            body=notify.slack_payload(ctx, conf.get("channel") or None)))  # fmt: skip
        elif channel == "statuspage":
            api = re.sub(r"/+$", "", conf.get("api_url") or notify.STATUSPAGE_API)
            url = "%s/pages/%s/incidents" % (api, conf["page_id"])
            states = component_states or {}
            body = notify.statuspage_incident(ctx, list(conf.get("components") or []), states.get(ctx["event"]) or None,
                                              create=not statuspage_id)  # fmt: skip
            if statuspage_id:
                url += "/" + statuspage_id
            out.append(dict(method="PATCH" if statuspage_id else "POST", url=url,
                            headers={"Authorization": "OAuth %s" % conf["api_key"]}, body=body))  # fmt: skip
        elif channel == "pagerduty":
            event = notify.pagerduty_event(ctx)
            if event is None:
                continue
            event["routing_key"] = conf["routing_key"]
            url = conf.get("events_url") or notify.PAGERDUTY_EVENTS
            out.append(dict(method="POST", url=url, headers={}, body=event))
        else:
            out.append(dict(method="POST", url=conf["url"], headers=dict(conf.get("headers") or {}),
                            body=notify.webhook_payload(ctx)))  # fmt: skip
        out[-1].update(channel=channel, ok=notify.OK_STATUSES[channel])
    return out


def secrets_of(settings):
    """Every value of the channels' settings that could be a secret (to keep out of error texts)."""
    found = []
    for conf in settings.values():
        for key, value in (conf or {}).items():
            if key == "headers" and isinstance(value, dict):
                found += [str(v) for v in value.values() if v]
            elif isinstance(value, str) and value:
                found.append(value)
    return sorted(set(found), key=len, reverse=True)


def reached_level(planned, deliveries):
    """The level this notification reached: an escalation counts once one channel took it."""
    taken = [d for d in deliveries if d.get("event") == "escalation" and d.get("ok")]
    if not taken:
        return 1
    own = planned["escalation"]
    return own["level"] if own else planned["level"]["level"]


def state_record(planned, event, now_epoch, reached):
    """What <incident>/notify.json keeps (never a URL or key)."""
    return escalation.incident_record(planned["clock"], planned["incident"], event, now_epoch, reached)
