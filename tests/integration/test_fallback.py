"""When the rollback's own target is broken: Procedure A falls back to the release before it.

The tests of this module share one stack and run in file order. The history is built so that the last
known good release is a broken one: v1.2.3 (good), v1.2.4 recorded verified by a weak check although half
of its chat requests fail, and v1.2.5, whose billing service never starts.
"""

from __future__ import annotations

import json

import pytest
from receiver import assert_failed, assert_no_secret, assert_started, by_channel, notifying

LATER_STAGES = ("analytics-service", "email-worker", "api-gateway", "frontend")


def test_good_release_then_a_broken_one_that_passes_a_weak_check(stack):
    stack.seed("v1.2.3")
    # Typed extra vars (JSON): a `-e verify_smoke=false` string is not a boolean to ansible-core 2.19.
    run = stack.playbook("deploy", version="v1.2.4", verify_smoke=False, verify_metrics=False)
    assert run.rc == 0, run.output
    assert [(e["version"], e["result"]) for e in stack.history()] == [("v1.2.3", "verified"), ("v1.2.4", "verified")]


@pytest.mark.fault(
    "A release whose service never gets healthy",
    how="v1.2.5: billing-service exits at startup",
    holds="the staged restart stops at that stage, names it, leaves later stages untouched",
)
def test_staged_restart_stops_at_the_stage_that_never_gets_healthy(stack):
    before = stack.containers()
    run = stack.playbook("deploy", version="v1.2.5", rollback_stage_timeout=25, rollback_replace="plain")
    assert run.rc != 0
    assert "staged restart stopped at stage core" in run.output, run.output
    assert "billing-service" in run.output.split("staged restart stopped at stage core", 1)[1]
    assert "not started: workers (analytics-service, email-worker), edge (api-gateway, frontend)" in run.output
    after = stack.containers()
    for service in LATER_STAGES:
        assert after[service] == before[service], f"{service} of a later stage was touched"
    assert stack.history()[-1]["version"] == "v1.2.5"
    assert stack.history()[-1]["result"] == "failed"


@pytest.mark.fault(
    "The rollback's own target is broken",
    how="the last known good release fails verification",
    holds="Procedure A falls back to the release before it, recorded in the history",
)
def test_broken_target_falls_back_to_the_release_before_it(stack):
    run = stack.playbook("procedure_a")
    assert run.rc == 0, run.output
    assert "Target v1.2.4 (last known good" in run.output
    assert "v1.2.4 rejected: verification failed:" in run.output
    assert "Fallback attempt 2 of at most 2: v1.2.3" in run.output
    status, health = stack.get("/health")
    assert (status, health["version"]) == (200, "v1.2.3")
    for service in ("auth", "chats", "billing", "analytics"):
        code, body = stack.get(f"/api/{service}/health")
        assert (code, body.get("version")) == (200, "v1.2.3"), service

    failed, fallback = stack.history()[-2:]
    assert (failed["version"], failed["action"], failed["result"], failed["from_version"]) == (
        "v1.2.4", "rollback", "failed", "v1.2.5"
    )
    assert failed["reason"].startswith("verification failed:") and "smoke" in failed["reason"]
    assert "fallback" not in failed
    # The stack as the failed attempt left it: v1.2.4 everywhere, the data services untouched.
    assert failed["services"]["chat-service"] == {"version": "v1.2.4", "state": "healthy"}
    assert failed["services"]["billing-service"]["version"] == "v1.2.4"
    assert (fallback["version"], fallback["action"], fallback["result"], fallback["from_version"]) == (
        "v1.2.3", "rollback", "verified", "v1.2.4"
    )
    assert fallback["fallback"] == 1


def test_without_fallback_the_run_fails_with_what_was_tried_and_the_stack_state(stack):
    with notifying(stack) as receiver:
        run = stack.playbook("procedure_a", version="v1.2.4", rollback_fallback_depth=0)
        sent = by_channel(receiver.take())
    assert run.rc != 0
    assert "Procedure A failed: tried v1.2.4 (verification failed: " in run.output, run.output
    message = run.output.split("Procedure A failed: tried v1.2.4 (verification failed: ", 1)[1]
    assert "smoke" in message.split(")", 1)[0]
    assert "no fallback: rollback_fallback_depth is 0" in message
    assert "The stack now runs: " in message
    assert "chat-service v1.2.4 healthy" in message.split("The stack now runs: ", 1)[1]
    assert stack.get("/health")[1]["version"] == "v1.2.4"

    last = stack.history()[-1]
    assert (last["version"], last["result"]) == ("v1.2.4", "failed")
    assert "smoke" in last["reason"]
    services = last["services"]
    assert {services[s]["version"] for s in ("auth-service", "chat-service", "billing-service", *LATER_STAGES)} == {
        "v1.2.4"
    }
    assert all(info["state"] in ("healthy", "running") for info in services.values()), services
    assert not (stack.state_dir / "lock").exists()

    # The team was told it failed, what runs now, and level 2 (the DevOps lead) was called on its own.
    assert_started(sent, stack.project, "A", "v1.2.4", from_version="v1.2.3", minutes=10)
    assert_failed(sent, stack.project, "A", "v1.2.4", runs_now="chat-service v1.2.4 healthy")
    assert assert_no_secret(run.kept, stack.state_dir, stack.timelines) > 0

    # The report says it failed, on which step, that the stack was left changed, and what is left to do.
    path = max((stack.state_dir / "incidents").glob("run-*/report.json"), key=lambda p: p.stat().st_mtime)
    report = json.loads(path.read_text())
    assert (report["procedure"], report["status"], report["to_version"]) == ("A", "failed", "v1.2.4")
    assert "rollback_fallback_depth is 0" in report["reason"]
    assert {s["name"]: s["status"] for s in report["steps"]}["verify"] == "failed"
    assert report["downtime"]["ongoing"] is True and report["downtime"]["seconds"] > 0
    items = {i["item"]: i for c in report["checklists"] for i in c["items"]}
    flows = items["Critical user flows tested"]
    assert flows["state"] == "failed" and "smoke" in flows["note"]
    assert (items["Team notified of completion"]["state"], items["Team notified of completion"]["note"]) == (
        "open", "not sent by this run")
    assert any(n["event"] == "escalation" and n["ok"] for n in report["notifications"])
    assert report["follow_ups"][0].startswith("The run failed: ")
