"""What runbook.rollback.notify sends, worked out before anything is sent (plugin_utils/notify_plan.py)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.escalation import iso_time
from ansible_collections.runbook.rollback.plugins.plugin_utils import notify_plan

NOW = 1_790_000_000.0
HOUR = 3600
SETTINGS = {
    "slack": {"webhook_url": "http://127.0.0.1:9/services/T/B/slacksecret", "channel": "#ops"},
    "statuspage": {"page_id": "pg1", "api_key": "spsecret", "api_url": "http://127.0.0.1:9/v1/",
                   "components": {"c1": "web"}},
    "pagerduty": {"routing_key": "pdsecret", "events_url": "http://127.0.0.1:9/v2/enqueue"},
    "webhook": {"url": "http://127.0.0.1:9/hook", "headers": {"Authorization": "Bearer hooksecret"}},
}  # fmt: skip
LEVELS = [
    {"level": 2, "name": "DevOps lead", "contacts": ["@lead"], "channels": ["slack", "pagerduty"]},
    {"level": 3, "name": "engineering manager", "contacts": ["@em"], "channels": []},
]


def params(event, **extra):
    base = dict(event=event, incident="INC-9", project="shop", procedure="A", escalation_levels=LEVELS,
                channels=list(notify_plan.notify.CHANNELS), escalate=True, escalated_level=1, **SETTINGS)  # fmt: skip
    base.update(extra)
    return base


def test_a_channel_is_on_only_with_its_required_settings():
    assert notify_plan.configured(SETTINGS) == ["slack", "statuspage", "pagerduty", "webhook"]
    half = dict(SETTINGS, statuspage={"page_id": "pg1"}, webhook={})
    assert notify_plan.configured(half) == ["slack", "pagerduty"]
    assert notify_plan.configured(SETTINGS, ["webhook", "slack"]) == ["slack", "webhook"]
    with pytest.raises(notify_plan.NotifyInputError, match="unknown channel sms"):
        notify_plan.configured(SETTINGS, ["sms"])


def test_a_start_is_one_batch_to_every_channel():
    planned = notify_plan.plan(params("started"), None, NOW)
    assert planned["level"]["level"] == 1
    assert [(ctx["event"], channels) for ctx, channels in planned["batches"]] == [
        ("started", ["slack", "statuspage", "pagerduty", "webhook"])
    ]
    assert planned["clock"]["started_at"] == iso_time(NOW)


def test_a_failure_escalates_to_level_2_on_that_levels_channels():
    planned = notify_plan.plan(params("failed", text="smoke: login 502"), None, NOW)
    (first, _all), (esc, channels) = planned["batches"]
    assert first["event"] == "failed" and esc["event"] == "escalation"
    assert channels == ["slack", "pagerduty"]
    assert esc["escalation"] == {"level": 2, "name": "DevOps lead", "reasons": ["the rollback failed"],
                                 "contacts": ["@lead"]}  # fmt: skip
    # Taken by one channel: the incident reached level 2; taken by none: it is tried again next time.
    assert notify_plan.reached_level(planned, [{"event": "escalation", "ok": True}]) == 2
    untaken = [{"event": "escalation", "ok": False}, {"event": "failed", "ok": True}]
    assert notify_plan.reached_level(planned, untaken) == 1


def test_no_second_escalation_to_a_level_already_reached():
    kept = json.dumps({"started_at": iso_time(NOW - 60), "escalated_level": 2})
    assert len(notify_plan.plan(params("failed"), kept, NOW)["batches"]) == 1
    assert len(notify_plan.plan(params("failed", escalated_level=2), None, NOW)["batches"]) == 1
    assert len(notify_plan.plan(params("failed", escalate=False), None, NOW)["batches"]) == 1


def test_the_kept_start_counts_the_downtime_up_to_level_3():
    kept = json.dumps({"started_at": iso_time(NOW - 2 * HOUR), "escalated_level": 2})
    planned = notify_plan.plan(params("failed"), kept, NOW)
    assert planned["level"]["level"] == 3
    esc = planned["batches"][1][0]["escalation"]
    assert esc["level"] == 3 and "downtime 2h00m is over 1 hour" in esc["reasons"]
    # Level 3 names no channel: every configured one.
    assert planned["batches"][1][1] == ["slack", "statuspage", "pagerduty", "webhook"]
    assert notify_plan.state_record(planned, "failed", NOW, 3)["escalated_level"] == 3


def test_an_escalation_event_goes_to_its_level_with_its_reason():
    asked = params("escalation", escalation_level="2", escalation_reason="down 70 minutes")
    planned = notify_plan.plan(asked, None, NOW)
    ((ctx, channels),) = planned["batches"]
    assert channels == ["slack", "pagerduty"]
    assert ctx["escalation"]["reasons"] == ["down 70 minutes"]
    assert notify_plan.reached_level(planned, [{"event": "escalation", "ok": True}]) == 2


@pytest.mark.parametrize(
    "extra, message",
    [
        (dict(downtime_seconds=-5), "downtime_seconds must be 0 or more"),
        (dict(escalation_level=7), "escalation_level must be a level from 0 to 4"),
        (dict(escalated_level="high"), "escalated_level must be a level from 1 to 4"),
        (dict(fell_back="maybe"), "fell_back must be a boolean"),
        (dict(incident_started_at="an hour ago"), "is not an ISO 8601 time"),
        (dict(escalation_levels=["level 2"]), "each escalation level must be a dict"),
    ],
)
def test_bad_input_is_refused_in_one_line(extra, message):
    with pytest.raises(notify_plan.NotifyInputError, match=message):
        event = "escalation" if "escalation_level" in extra else "failed"
        notify_plan.plan(params(event, **extra), None, NOW)


def test_calls_carry_the_settings_and_statuspage_updates_the_known_incident():
    ctx = notify_plan.plan(params("failed"), None, NOW)["context"]
    calls = {c["channel"]: c for c in notify_plan.calls(ctx, ["slack", "statuspage", "pagerduty", "webhook"], SETTINGS)}
    assert calls["slack"]["url"] == SETTINGS["slack"]["webhook_url"] and calls["slack"]["body"]["channel"] == "#ops"
    assert (calls["statuspage"]["method"], calls["statuspage"]["url"]) == ("POST", "http://127.0.0.1:9/v1/pages/pg1/incidents")
    assert calls["statuspage"]["headers"] == {"Authorization": "OAuth spsecret"}
    assert calls["statuspage"]["body"]["incident"]["components"] == {"c1": "major_outage"}
    assert calls["pagerduty"]["body"]["routing_key"] == "pdsecret"
    assert calls["webhook"]["headers"] == {"Authorization": "Bearer hooksecret"}
    assert calls["webhook"]["ok"] == (200, 201, 202, 204)
    update = notify_plan.calls(ctx, ["statuspage"], SETTINGS, {"failed": "partial_outage"}, "sp7")[0]
    assert (update["method"], update["url"]) == ("PATCH", "http://127.0.0.1:9/v1/pages/pg1/incidents/sp7")
    assert "name" not in update["body"]["incident"]
    assert update["body"]["incident"]["components"] == {"c1": "partial_outage"}


def test_nobody_is_paged_for_a_start():
    ctx = notify_plan.plan(params("started"), None, NOW)["context"]
    assert [c["channel"] for c in notify_plan.calls(ctx, ["pagerduty", "webhook"], SETTINGS)] == ["webhook"]


def test_secrets_of_lists_every_setting_value():
    found = notify_plan.secrets_of(SETTINGS)
    for secret in ("slacksecret", "spsecret", "pdsecret", "Bearer hooksecret"):
        assert any(secret in value for value in found)
    assert found == sorted(found, key=len, reverse=True)
