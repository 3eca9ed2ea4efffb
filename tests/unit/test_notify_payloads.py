"""What the notify role sends to Slack, Statuspage, PagerDuty and a webhook, and what a report keeps of it."""

from __future__ import annotations

import json

import pytest

from ansible_collections.runbook.rollback.plugins.filter.notify import FilterModule
from ansible_collections.runbook.rollback.plugins.module_utils import notify

FILTERS = FilterModule().filters()
NOW = 1764374400  # 2025-11-29T00:00:00Z


def ctx(event, **raw):
    base = {
        "event": event, "incident": "INC-42", "project": "shop", "host": "prod-1", "procedure": "A",
        "from_version": "v1.2.4", "to_version": "v1.2.3", "run_id": "r1", "lead": "alice",
        "budgets": {"A": 10, "B": 20, "C": 5, "D": 1}, "now_epoch": NOW,
    }  # fmt: skip
    base.update(raw)
    return notify.context(base)


ESCALATION = {"level": 3, "name": "engineering manager", "reasons": ["downtime 1h10m is over 1 hour"],
              "contacts": ["@em", "em@example.com"]}  # fmt: skip

# event, extra context -> Slack text
TEXTS = {
    "started": ("started", {"message": "checkout 502"},
                "🚨 ROLLBACK IN PROGRESS on shop: Procedure A, v1.2.4 → v1.2.3 (checkout 502). "
                "ETA: 00:10 UTC (~10 min). Led by: alice"),
    "started, unknown procedure": ("started", {"procedure": "", "from_version": "", "lead": ""},
                                   "🚨 ROLLBACK IN PROGRESS on shop: v1.2.3. ETA: unknown. Led by: unknown"),
    "completed": ("completed", {"verification": "passed", "duration_seconds": 312},
                  "✅ ROLLBACK COMPLETE on shop. Services restored. Current version: v1.2.3. "
                  "Verification: passed. Took 5m12s. Monitoring for stability"),
    "completed, post-mortem": ("completed", {"postmortem": "Thu 14:00 UTC"},
                               "✅ ROLLBACK COMPLETE on shop. Services restored. Current version: v1.2.3. "
                               "Monitoring for stability. Post-mortem scheduled for Thu 14:00 UTC"),
    "completed, a watch follows": ("completed", {"watch_seconds": 900},
                                   "✅ ROLLBACK COMPLETE on shop. Services restored. Current version: v1.2.3. "
                                   "Monitoring for stability for 15m00s; its outcome follows"),
    "stable": ("stable", {"watch_seconds": 900, "message": "error rate never at or above 1.0 % for 300 s"},
               "🟢 STABLE on shop: v1.2.3 held through the stability watch for 15m00s (error rate never at or above "
               "1.0 % for 300 s). Incident resolved"),
    "stable, nothing known": ("stable", {"to_version": ""},
                              "🟢 STABLE on shop: the release held through the stability watch. Incident resolved"),
    "progress": ("progress", {"elapsed_seconds": 960, "step": "Step 4: restore", "eta_minutes": 7},
                 "⏳ ROLLBACK STILL IN PROGRESS on shop: Procedure A, v1.2.4 → v1.2.3 (16m00s in, now: Step 4: "
                 "restore). Revised ETA: 00:07 UTC (~7 min). Led by: alice"),
    "progress, nothing known": ("progress", {"procedure": "", "from_version": ""},
                                "⏳ ROLLBACK STILL IN PROGRESS on shop: v1.2.3. Revised ETA: unknown. Led by: alice"),
    "failed": ("failed", {"message": "verification failed: smoke"},
               "❌ ROLLBACK FAILED on shop: Procedure A, v1.2.4 → v1.2.3: verification failed: smoke"),
    "failed, nothing known": ("failed", {"procedure": "", "from_version": "", "to_version": "", "message": "x"},
                              "❌ ROLLBACK FAILED on shop: x"),
    "shutdown": ("shutdown", {"message": "security breach"}, "🚨 EMERGENCY SHUTDOWN on shop: security breach"),
    "shutdown without reason": ("shutdown", {}, "🚨 EMERGENCY SHUTDOWN on shop: reason not given"),
    "escalation": ("escalation", {"escalation": ESCALATION},
                   "⚠️ ESCALATION on shop to level 3 (engineering manager): downtime 1h10m is over 1 hour"),
    "escalation, message as reason": ("escalation", {"escalation": {"level": 2, "name": "DevOps lead"},
                                                     "message": "restore stuck"},
                                      "⚠️ ESCALATION on shop to level 2 (DevOps lead): restore stuck"),
}  # fmt: skip


@pytest.mark.parametrize("event, extra, text", TEXTS.values(), ids=list(TEXTS))
def test_slack_text(event, extra, text):
    body = notify.slack_payload(ctx(event, **extra))
    assert body["text"] == text
    assert body["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    assert "channel" not in body


def test_slack_blocks_carry_the_details():
    body = notify.slack_payload(ctx("escalation", escalation=ESCALATION, state_line="auth v1.2.3 running"),
                                "#production-alerts")  # fmt: skip
    assert body["channel"] == "#production-alerts"
    fields = [f["text"] for b in body["blocks"] if "fields" in b for f in b["fields"]]
    assert fields == ["*Incident*\nINC-42", "*Procedure*\nA", "*Versions*\nv1.2.4 → v1.2.3",
                      "*Level*\n3: engineering manager", "*Contacts*\n@em, em@example.com",
                      "*Stack state*\nauth v1.2.3 running"]  # fmt: skip
    assert body["blocks"][-1] == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": "prod-1 · run r1 · 2025-11-29T00:00:00Z"}]}  # fmt: skip
    started = notify.slack_payload(ctx("started"))
    fields = [f["text"] for b in started["blocks"] if "fields" in b for f in b["fields"]]
    assert "*ETA*\n00:10 UTC (~10 min)" in fields and "*Lead*\nalice" in fields


@pytest.mark.parametrize(
    "event, create, states, status, components",
    [
        ("started", True, None, "identified", "partial_outage"),
        ("started", True, {"started": "degraded_performance"}, "identified", "degraded_performance"),
        ("failed", False, None, "investigating", "major_outage"),
        ("shutdown", False, None, "identified", "major_outage"),
        ("escalation", False, None, "investigating", "major_outage"),
        ("completed", False, {"completed": "major_outage"}, "resolved", "operational"),
        ("completed, watched", False, None, "monitoring", "operational"),
        ("stable", False, {"stable": "major_outage"}, "resolved", "operational"),
    ],
)
def test_statuspage_incident(event, create, states, status, components):
    event, watched = event.split(", ")[0], event.endswith("watched")
    c = ctx(event, escalation=ESCALATION, message="internal detail", watch_seconds=60 if watched else 0)
    body = notify.statuspage_incident(c, ["cmp1", "cmp2"], (states or {}).get(event), create)
    incident = body["incident"]
    assert incident["status"] == status
    assert incident["components"] == {"cmp1": components, "cmp2": components}
    assert incident["component_ids"] == ["cmp1", "cmp2"]
    assert ("name" in incident) is create
    public = json.dumps(body, ensure_ascii=False)
    for private in ("v1.2.4", "alice", "@em", "internal detail"):
        assert private not in public


def test_statuspage_bodies():
    assert notify.statuspage_incident(ctx("started"))["incident"] == {
        "status": "identified",
        "body": "shop is affected by a recent release, which we are rolling back. "
                "We expect service to be back by 00:10 UTC.",
        "deliver_notifications": True,
        "name": "shop: service disruption (INC-42)",
    }  # fmt: skip
    body = notify.statuspage_incident(ctx("shutdown"))["incident"]["body"]
    assert body == "shop is offline for emergency maintenance."
    body = notify.statuspage_incident(ctx("stable"))["incident"]["body"]
    assert body == "shop has worked normally since the fix, and this incident is resolved."
    with pytest.raises(ValueError, match="watch_seconds must be a number"):
        ctx("completed", watch_seconds="soon")
    body = notify.statuspage_incident(ctx("failed", public_message="Working on it."))["incident"]["body"]
    assert body == "Working on it."
    with pytest.raises(ValueError, match="component status"):
        notify.statuspage_incident(ctx("failed"), ["c"], "down")


@pytest.mark.parametrize(
    "event, extra, action, severity",
    [
        ("failed", {}, "trigger", "error"),
        ("shutdown", {}, "trigger", "critical"),
        ("escalation", {"escalation": {"level": 2, "name": "DevOps lead"}}, "trigger", "error"),
        ("escalation", {"escalation": ESCALATION}, "trigger", "critical"),
        ("completed", {}, "resolve", None),
        ("completed", {"watch_seconds": 900}, "resolve", None),
        ("stable", {}, "resolve", None),
    ],
)
def test_pagerduty_event(event, extra, action, severity):
    body = notify.pagerduty_event(ctx(event, **extra))
    assert body["event_action"] == action
    assert body["dedup_key"] == "runbook-rollback-INC-42"
    assert "routing_key" not in body
    if severity:
        payload = body["payload"]
        assert payload["severity"] == severity
        assert payload["source"] == "prod-1" and payload["component"] == "shop" and payload["group"] == "procedure A"
        assert payload["summary"] == notify.headline(ctx(event, **extra))
        assert payload["timestamp"] == "2025-11-29T00:00:00Z"
    else:
        assert set(body) == {"event_action", "dedup_key"}


def test_pagerduty_escalation_details_and_no_page_for_a_start():
    body = notify.pagerduty_event(ctx("escalation", escalation=ESCALATION))
    details = body["payload"]["custom_details"]
    assert details["contacts"] == ["@em", "em@example.com"] and details["escalation_level"] == 3
    assert notify.pagerduty_event(ctx("started")) is None
    assert notify.pagerduty_event(ctx("failed"), severity="warning")["payload"]["severity"] == "warning"
    long = notify.pagerduty_event(ctx("failed", message="x" * 5000))
    assert len(long["payload"]["summary"]) == 1024


def test_webhook_payload():
    body = notify.webhook_payload(ctx("completed", verification="passed", duration_seconds="61.7"))
    assert body["source"] == "runbook.rollback"
    assert body["text"].startswith("ROLLBACK COMPLETE on shop")
    assert (body["event"], body["incident"], body["to_version"], body["duration_seconds"]) == (
        "completed", "INC-42", "v1.2.3", 61)  # fmt: skip
    assert body["escalation"] is None and body["eta"] == ""
    json.dumps(body)  # plain JSON


@pytest.mark.parametrize(
    "given, expected",
    [("INC-42", "INC-42"), ("INC 42/../x", "INC-42-..-x"), ("", "unnamed"), (None, "unnamed"),
     ("../", "unnamed"), ("a" * 80, "a" * 64), (1042, "1042")],
)  # fmt: skip
def test_incident_id_is_safe(given, expected):
    assert notify.incident_id(given) == expected


@pytest.mark.parametrize(
    "now, minutes, expected",
    [(NOW, 10, "00:10 UTC (~10 min)"), (NOW, 1, "00:01 UTC (~1 min)"), (NOW, None, ""), (NOW, 0, ""), (None, 5, "")],
)
def test_eta(now, minutes, expected):
    assert notify.eta_text(now, minutes) == expected


def test_eta_only_for_a_start_and_unknown_procedure():
    assert ctx("failed")["eta"] == ""
    assert ctx("started", procedure="Z")["eta"] == ""


@pytest.mark.parametrize("raw", [{"event": "begun"}, {}, "started"])
def test_context_refuses(raw):
    with pytest.raises(ValueError, match=r"event must be one of|context must be a dict"):
        notify.context(raw)


@pytest.mark.parametrize(
    "answer, ok, status, error",
    [
        ({"status": 200, "error": None}, True, 200, ""),
        ({"status": 202, "json": {"status": "success"}}, True, 202, ""),
        ({"status": 500, "body": "boom https://hooks.slack.com/services/T/B/SECRET"}, False, 500, "HTTP 500"),
        ({"status": None, "error": "timed out after 5s"}, False, -1, "timed out"),
        ({"status": None, "error": "connection refused"}, False, -1, "connection refused"),
        ({"status": None, "error": "bad host https://x.example/services/SECRET"}, False, -1, "bad host <url>"),
        ({"status": None, "error": "token SECRET refused by proxy"}, False, -1, "token <secret> refused by proxy"),
        ({"status": None, "error": ""}, False, -1, "no answer"),
    ],
)  # fmt: skip
def test_delivery_keeps_no_url_or_secret(answer, ok, status, error):
    entry = notify.answer_delivery("slack", "failed", answer, (200, 202), secrets=["SECRET"])
    assert entry == {"channel": "slack", "event": "failed", "ok": ok, "status": status, "error": error}
    assert "SECRET" not in json.dumps(entry)


def test_delivery_note_and_lines():
    entry = notify.answer_delivery("statuspage", "started", {"status": 201}, (200, 201), "incident id not kept in /x")
    assert entry["ok"] and FILTERS["notify_line"](entry) == "statuspage: sent (incident id not kept in /x)"
    assert FILTERS["notify_line"]({"channel": "slack", "ok": True, "error": ""}) == "slack: sent"
    failed = {"channel": "slack", "event": "escalation", "ok": False, "error": "HTTP 500"}
    assert FILTERS["notify_line"](failed) == "slack: failed (HTTP 500)"
    assert FILTERS["notify_line"](failed, True) == "slack: failed (HTTP 500) [escalation]"


@pytest.mark.parametrize("seconds, text", [(None, ""), (45, "45s"), (312, "5m12s"), (3900, "1h05m"), ("61.9", "1m01s")])
def test_duration_text(seconds, text):
    assert notify.duration_text(seconds) == text


HOSTILE = "<!channel> <javascript:alert(1)|click> <@U123> & <script>x</script>"


def test_slack_never_turns_text_from_anyone_into_a_mention_a_link_or_markup():
    body = notify.slack_payload(ctx("escalation", escalation=ESCALATION, message=HOSTILE, state_line=HOSTILE,
                                    to_version=HOSTILE))  # fmt: skip
    texts = [body["text"]]
    for block in body["blocks"]:
        texts += [block["text"]["text"]] if "text" in block else []
        texts += [f["text"] for f in block.get("fields", [])]
        texts += [e["text"] for e in block.get("elements", [])]
    joined = "\n".join(texts)
    assert "<" not in joined and ">" not in joined
    assert "&lt;!channel&gt;" in joined and "&lt;javascript:alert(1)|click&gt;" in joined and "&amp;" in joined


def test_a_progress_update_tells_the_status_page_news_and_leaves_its_state_alone():
    body = notify.statuspage_incident(ctx("progress", eta_minutes=7), ["comp1"], "major_outage", create=False)
    said = "We are still rolling back the release that affects shop. We now expect service to be back by 00:07 UTC."
    assert body == {"incident": {"body": said, "deliver_notifications": True}}
    assert notify.pagerduty_event(ctx("progress")) is None
