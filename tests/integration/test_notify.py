"""The notify role against a local HTTP receiver standing in for Slack, Statuspage, PagerDuty and a webhook.

No Docker: playbooks/notify.yml runs on the local host through the same inventory and environment as the
stack tests, with every channel's URL pointing at a receiver in this process.
"""

from __future__ import annotations

import datetime
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from receiver import (
    ROUTING_KEY,
    SECRETS,
    SLACK_TOKEN,
    STATUSPAGE_KEY,
    WEBHOOK_TOKEN,
    Receiver,
    by_channel,
    channel_vars,
)
from stack import Stack, free_port


@pytest.fixture(scope="session", autouse=True)
def docker_engine():
    """Overrides the integration suite's Docker check: these tests need no engine."""


def make_stack(name: str, **group_vars) -> Stack:
    st = Stack(Path(tempfile.mkdtemp(prefix="rbnotify-")), name, echo=True)
    st.write_group_vars(rollback_project_name="shop", **group_vars)
    return st


@pytest.fixture(scope="module")
def receiver():
    rec = Receiver()
    yield rec
    rec.close()


@pytest.fixture(scope="module")
def lifecycle(receiver):
    """One incident from start to finish; each event's run and what each channel received."""
    st = make_stack("rbnotify", **receiver.channel_vars())
    events = [
        ("started", dict(procedure="A", version="v1.2.3", message="checkout returns 502"), {"from": "v1.2.4"}),
        ("failed", dict(procedure="A", version="v1.2.3", message="verification failed: smoke: login 502",
                        state_line="auth-service v1.2.3 running; chat-service v1.2.4 exited (1)"), {"from": "v1.2.4"}),
        ("escalation", dict(level=3, message="down for 70 minutes"), {}),
        ("shutdown", dict(message="customer data exposed through the export endpoint"), {}),
        ("completed", dict(version="v1.2.3", verification="passed", duration=312), {}),
    ]  # fmt: skip
    runs = {}
    try:
        for event, extra, more in events:
            run = st.playbook("notify", "-v", event=event, incident="INC-1", **extra, **more)
            runs[event] = (run, by_channel(receiver.take()))
        yield st, runs
    finally:
        shutil.rmtree(st.root, ignore_errors=True)


def test_every_run_succeeds_and_reports_each_channel(lifecycle):
    _, runs = lifecycle
    for event, (run, _) in runs.items():
        assert run.rc == 0, event
    assert "slack: sent" in runs["started"][0].output
    assert "statuspage: sent" in runs["started"][0].output
    assert "webhook: sent" in runs["started"][0].output
    assert "pagerduty: sent" in runs["failed"][0].output


def test_started(lifecycle):
    _, runs = lifecycle
    got = runs["started"][1]
    (slack,) = got["slack"]
    text = slack["json"]["text"]
    assert "ROLLBACK IN PROGRESS on shop: Procedure A, v1.2.4 → v1.2.3 (checkout returns 502)" in text
    assert "UTC (~10 min)" in text and "ETA: " in text and "Led by: " in text
    assert slack["json"]["channel"] == "#production-alerts"
    assert slack["path"] == f"/services/T0/B0/{SLACK_TOKEN}"
    fields = [f["text"] for b in slack["json"]["blocks"] if "fields" in b for f in b["fields"]]
    assert "*Incident*\nINC-1" in fields and "*Lead*" in " ".join(fields)

    (sp,) = got["statuspage"]
    assert (sp["method"], sp["path"]) == ("POST", "/sp/v1/pages/page1/incidents")
    assert sp["headers"]["Authorization"] == f"OAuth {STATUSPAGE_KEY}"
    incident = sp["json"]["incident"]
    assert incident["status"] == "identified"
    assert incident["components"] == {"cmpapi": "partial_outage", "cmpweb": "partial_outage"}
    assert "INC-1" in incident["name"]
    assert "v1.2" not in incident["body"]  # the public page names no release

    assert got["pagerduty"] == []  # nobody is paged for a start

    (hook,) = got["webhook"]
    assert hook["headers"]["Authorization"] == f"Bearer {WEBHOOK_TOKEN}"
    body = hook["json"]
    assert (body["source"], body["event"], body["incident"], body["procedure"]) == (
        "runbook.rollback", "started", "INC-1", "A")  # fmt: skip
    assert (body["from_version"], body["to_version"]) == ("v1.2.4", "v1.2.3")
    assert body["eta"].endswith("UTC (~10 min)")


def test_failed_escalates_to_level_2(lifecycle):
    _, runs = lifecycle
    run, got = runs["failed"]
    failed, escalation = got["slack"]
    assert failed["json"]["text"].startswith(
        "❌ ROLLBACK FAILED on shop: Procedure A, v1.2.4 → v1.2.3: verification failed"
    )
    assert "chat-service v1.2.4 exited (1)" in json.dumps(failed["json"]["blocks"], ensure_ascii=False)
    assert "ESCALATION on shop to level 2 (DevOps lead): the rollback failed" in escalation["json"]["text"]
    assert "@devops-lead" in json.dumps(escalation["json"]["blocks"])

    # Level 2's channels are slack, pagerduty and webhook: the status page gets the failure only.
    (sp,) = got["statuspage"]
    assert sp["method"] == "PATCH" and sp["path"] == "/sp/v1/pages/page1/incidents/spinc1"
    assert sp["json"]["incident"]["status"] == "investigating"
    assert set(sp["json"]["incident"]["components"].values()) == {"major_outage"}

    trigger, escalated = got["pagerduty"]
    for event in (trigger, escalated):
        assert event["json"]["routing_key"] == ROUTING_KEY
        assert event["json"]["event_action"] == "trigger"
        assert event["json"]["dedup_key"] == "runbook-rollback-INC-1"
    assert trigger["json"]["payload"]["severity"] == "error"
    assert trigger["json"]["payload"]["custom_details"]["stack_state"].startswith("auth-service v1.2.3")
    assert escalated["json"]["payload"]["custom_details"]["contacts"] == ["@devops-lead"]
    assert escalated["json"]["payload"]["custom_details"]["escalation_level"] == 2

    assert [h["json"]["event"] for h in got["webhook"]] == ["failed", "escalation"]
    assert got["webhook"][1]["json"]["escalation"]["level"] == 2
    assert "slack: sent [escalation]" in run.output


def test_escalation_to_level_3(lifecycle):
    _, runs = lifecycle
    _, got = runs["escalation"]
    (slack,) = got["slack"]
    assert "ESCALATION on shop to level 3 (engineering manager): down for 70 minutes" in slack["json"]["text"]
    blocks = json.dumps(slack["json"]["blocks"])
    assert "@engineering-manager" in blocks and "em@example.com" in blocks
    (sp,) = got["statuspage"]
    assert sp["path"].endswith("/incidents/spinc1")
    assert "engineering" not in json.dumps(sp["json"])  # no internal contact on the public page
    (pd,) = got["pagerduty"]
    assert pd["json"]["payload"]["severity"] == "critical"
    assert pd["json"]["dedup_key"] == "runbook-rollback-INC-1"
    (hook,) = got["webhook"]
    assert hook["json"]["escalation"]["contacts"] == ["@engineering-manager", "em@example.com"]


def test_shutdown(lifecycle):
    _, runs = lifecycle
    _, got = runs["shutdown"]
    (slack,) = got["slack"]
    assert slack["json"]["text"] == "🚨 EMERGENCY SHUTDOWN on shop: customer data exposed through the export endpoint"
    (sp,) = got["statuspage"]
    assert sp["json"]["incident"]["body"] == "shop is offline for emergency maintenance."
    assert set(sp["json"]["incident"]["components"].values()) == {"major_outage"}
    (pd,) = got["pagerduty"]
    assert pd["json"]["payload"]["severity"] == "critical"
    assert pd["json"]["dedup_key"] == "runbook-rollback-INC-1"
    assert got["webhook"][0]["json"]["event"] == "shutdown"


def test_completed_resolves_the_same_incident(lifecycle):
    st, runs = lifecycle
    _, got = runs["completed"]
    (slack,) = got["slack"]
    assert "ROLLBACK COMPLETE on shop. Services restored. Current version: v1.2.3" in slack["json"]["text"]
    assert "Verification: passed" in slack["json"]["text"] and "Took 5m12s" in slack["json"]["text"]
    (sp,) = got["statuspage"]
    assert (sp["method"], sp["path"]) == ("PATCH", "/sp/v1/pages/page1/incidents/spinc1")
    assert sp["json"]["incident"]["status"] == "resolved"
    assert set(sp["json"]["incident"]["components"].values()) == {"operational"}
    (pd,) = got["pagerduty"]
    assert pd["json"] == {"event_action": "resolve", "dedup_key": "runbook-rollback-INC-1", "routing_key": ROUTING_KEY}
    assert got["webhook"][0]["json"]["duration_seconds"] == 312
    kept = json.loads((st.state_dir / "incidents" / "INC-1" / "statuspage.json").read_text())
    assert kept["incident_id"] == "spinc1" and kept["status"] == "resolved"


def test_no_secret_in_output_or_state(lifecycle):
    st, runs = lifecycle
    texts = [run.output for run, _ in runs.values()]
    texts += [p.read_text() for p in st.root.rglob("*.json")]
    assert len(texts) > len(runs)  # statuspage.json and the timelines were read
    for secret in SECRETS:
        for text in texts:
            assert secret not in text


def _failing_run(mode: str, name: str, **vars_):
    rec = Receiver(mode)
    st = make_stack(name, **rec.channel_vars())
    try:
        run = st.playbook("notify", "-v", event="failed", incident="INC-2", message="smoke failed", **vars_)
        return run, by_channel(rec.take()), st
    finally:
        rec.close()
        shutil.rmtree(st.root, ignore_errors=True)


@pytest.mark.fault(
    "A notification endpoint answering 500",
    how="a local receiver answering 500",
    holds="the run goes on; the failure is reported",
)
def test_receiver_answering_500_does_not_fail_the_run():
    run, got, _ = _failing_run("error", "rbnotify500")
    assert run.rc == 0
    for channel in ("slack", "statuspage", "pagerduty", "webhook"):
        assert f"{channel}: failed (HTTP 500)" in run.output
        assert got[channel], channel  # each was tried
    for secret in SECRETS:
        assert secret not in run.output


@pytest.mark.fault(
    "A notification endpoint that never answers",
    how="a local receiver that accepts and never answers",
    holds="the run goes on after the timeout; the failure is reported",
)
def test_receiver_that_never_answers_does_not_fail_the_run():
    run, _, _ = _failing_run("hang", "rbnotifyhang", notify_timeout=2)
    assert run.rc == 0
    for channel in ("slack", "statuspage", "pagerduty", "webhook"):
        assert f"{channel}: failed (timed out)" in run.output
    for secret in SECRETS:
        assert secret not in run.output


@pytest.mark.fault(
    "One notification endpoint that never answers, the others well",
    how="a local receiver that never answers Slack's webhook",
    holds="every other channel is told; Slack's failure is reported",
)
def test_one_channel_that_never_answers_holds_up_no_other():
    run, got, _ = _failing_run("hang-slack", "rbnotifyslow", notify_timeout=3)
    assert run.rc == 0
    assert "slack: failed (timed out) [failed]" in run.output
    for channel in ("statuspage", "pagerduty", "webhook"):
        assert f"{channel}: sent [failed]" in run.output
    # The escalation to level 2 the failure calls for went to that level's channels all the same.
    assert "slack: failed (timed out) [escalation]" in run.output
    for channel in ("pagerduty", "webhook"):
        assert f"{channel}: sent [escalation]" in run.output
        assert len(got[channel]) == 2, channel


@pytest.mark.fault(
    "A notification endpoint with nothing listening",
    how="a closed port",
    holds="the run goes on; the failure is reported",
)
def test_nothing_listening_does_not_fail_the_run():
    st = make_stack("rbnotifyrefused", **channel_vars("http://127.0.0.1:%d" % free_port()))
    try:
        run = st.playbook("notify", "-vvv", event="shutdown", incident="INC-3", message="breach")
    finally:
        shutil.rmtree(st.root, ignore_errors=True)
    assert run.rc == 0
    assert "slack: failed (connection refused)" in run.output
    for secret in SECRETS:
        assert secret not in run.output


def test_bad_input_is_reported_not_fatal(receiver):
    st = make_stack("rbnotifybad", **receiver.channel_vars())
    try:
        run = st.playbook("notify", event="failed", incident="INC-5", downtime=-5)
    finally:
        shutil.rmtree(st.root, ignore_errors=True)
        receiver.take()
    assert run.rc == 0
    assert "notify: failed (downtime_seconds must be 0 or more, got" in run.output


def test_no_channel_configured():
    st = make_stack("rbnotifynone")
    try:
        run = st.playbook("notify", event="started", incident="INC-4")
    finally:
        shutil.rmtree(st.root, ignore_errors=True)
    assert run.rc == 0
    assert "notifications: no channel configured for started" in run.output


def _ago(seconds: float) -> str:
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module")
def long_incident(receiver):
    """An incident that started two hours ago (its notify.json says so), notified over four runs."""
    st = make_stack("rbnotifylong", **receiver.channel_vars())
    state = st.state_dir / "incidents" / "INC-L" / "notify.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"incident": "INC-L", "started_at": _ago(2 * 3600 + 60), "escalated_level": 1}))
    receiver.take()
    runs, kept = {}, {}
    steps = [
        ("two hours down", dict(event="started", procedure="A", version="v1.2.3")),
        ("same level again", dict(event="failed", procedure="A", version="v1.2.3", message="smoke: login 502")),
        ("five hours down", dict(event="failed", message="still down", notify_incident_started_at=_ago(5 * 3600))),
        ("completed", dict(event="completed", version="v1.2.3", verification="passed")),
    ]
    try:
        for name, extra in steps:
            run = st.playbook("notify", "-v", incident="INC-L", **extra)
            runs[name] = (run, by_channel(receiver.take()))
            kept[name] = state.read_text()
        yield runs, kept
    finally:
        shutil.rmtree(st.root, ignore_errors=True)


def test_an_incident_two_hours_old_escalates_to_level_3(long_incident):
    runs, kept = long_incident
    run, got = runs["two hours down"]
    assert run.rc == 0
    started, escalation = (m["json"]["text"] for m in got["slack"])
    assert started.startswith("🚨 ROLLBACK IN PROGRESS on shop")
    assert "ESCALATION on shop to level 3 (engineering manager): downtime 2h01m is over 1 hour" in escalation
    (pd,) = got["pagerduty"]  # the escalation pages; the start alone would not
    assert pd["json"]["payload"]["custom_details"]["escalation_level"] == 3
    assert pd["json"]["dedup_key"] == "runbook-rollback-INC-L"
    assert [h["json"]["event"] for h in got["webhook"]] == ["started", "escalation"]
    state = json.loads(kept["two hours down"])
    assert (state["incident"], state["escalated_level"], state["last_event"]) == ("INC-L", 3, "started")


def test_a_later_run_at_the_same_level_does_not_escalate_again(long_incident):
    runs, kept = long_incident
    run, got = runs["same level again"]
    assert run.rc == 0
    # failed alone calls for level 2 and two hours down for 3: both reached already.
    (failed,) = (m["json"]["text"] for m in got["slack"])
    assert failed.startswith("❌ ROLLBACK FAILED on shop")
    assert [p["json"]["payload"]["class"] for p in got["pagerduty"]] == ["rollback failed"]
    assert [h["json"]["event"] for h in got["webhook"]] == ["failed"]
    assert json.loads(kept["same level again"])["escalated_level"] == 3


def test_started_at_five_hours_ago_escalates_to_level_4(long_incident):
    runs, kept = long_incident
    run, got = runs["five hours down"]
    assert run.rc == 0
    _, escalation = (m["json"]["text"] for m in got["slack"])
    assert "ESCALATION on shop to level 4 (CTO): " in escalation and "is over 4 hours" in escalation
    assert "cto@example.com" in json.dumps(got["slack"][1]["json"]["blocks"])
    escalated = got["pagerduty"][-1]["json"]
    assert (escalated["payload"]["severity"], escalated["payload"]["custom_details"]["escalation_level"]) == (
        "critical", 4)  # fmt: skip
    assert got["statuspage"] and all(s["json"]["incident"]["status"] != "resolved" for s in got["statuspage"])
    state = json.loads(kept["five hours down"])
    assert state["escalated_level"] == 4
    assert state["started_at"] <= _ago(5 * 3600 - 60)  # the earlier start is kept from now on


def test_completed_ends_the_downtime_without_escalating(long_incident):
    runs, kept = long_incident
    run, got = runs["completed"]
    assert run.rc == 0
    (done,) = (m["json"]["text"] for m in got["slack"])
    assert "ROLLBACK COMPLETE on shop" in done
    (pd,) = got["pagerduty"]
    assert pd["json"]["event_action"] == "resolve"
    state = json.loads(kept["completed"])
    assert (state["escalated_level"], state["last_event"]) == (4, "completed")


def test_the_incident_state_holds_no_secret(long_incident):
    _, kept = long_incident
    for text in kept.values():
        assert set(json.loads(text)) == {"incident", "started_at", "escalated_level", "last_event", "updated_at"}
        assert "http" not in text
        for secret in SECRETS:
            assert secret not in text
