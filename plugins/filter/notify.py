# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the notify role sends to each channel, and what a report may say about it.

Documented in notify_context.yml, notify_slack.yml, notify_statuspage.yml, notify_pagerduty.yml,
notify_webhook.yml, notify_delivery.yml, notify_line.yml and notify_incident_id.yml.
"""

from __future__ import annotations

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.module_utils import notify


def _wrap(name, func):
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ValueError, KeyError, TypeError) as exc:
            raise AnsibleFilterError("%s: %s" % (name, exc)) from None

    run.__name__ = name
    return run


def notify_statuspage(ctx, component_ids=(), component_states=None, create=True):
    states = component_states or {}
    return notify.statuspage_incident(ctx, component_ids, states.get(ctx["event"]) or None, create)


def notify_delivery(result, channel, event, note=""):
    # A report must never fail a rollback: whatever the result, this returns an entry. The filter runs right
    # after the call, so its time is the time of the notification (the report's checklist shows it).
    at = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        return dict(notify.delivery(channel, event, result, note=note), at=at)
    except Exception:  # the entry says what little is known instead
        return {"channel": channel, "event": event, "ok": False, "status": -1, "error": "unreadable result", "at": at}


class FilterModule:
    def filters(self):
        return {
            "notify_context": _wrap("notify_context", notify.context),
            "notify_incident_id": _wrap("notify_incident_id", notify.incident_id),
            "notify_slack": _wrap("notify_slack", notify.slack_payload),
            "notify_statuspage": _wrap("notify_statuspage", notify_statuspage),
            "notify_pagerduty": _wrap("notify_pagerduty", notify.pagerduty_event),
            "notify_webhook": _wrap("notify_webhook", notify.webhook_payload),
            "notify_delivery": notify_delivery,
            "notify_line": _wrap("notify_line", notify.delivery_line),
        }
