"""Procedure C end to end on a real Docker stack: v1.2.5's billing-service never starts, and only that
service goes back to v1.2.3 while everything else keeps running untouched.

The tests share one stack and run in file order."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml
from receiver import assert_completed, assert_no_secret, assert_started, by_channel, incident_of, notifying
from reports import assert_report

BILLING = "billing-service"
# The release whose image test_procedure_c_rebuilds_a_pruned_image removes. Images are shared by every
# stack of the run and modules run in parallel: no other test deploys v1.2.2, so removing its image
# cannot pull it from under another stack's restart, nor can another stack rebuild it in between.
PRUNED = "v1.2.2"
PRUNED_IMAGE = f"mysaas/billing-service:{PRUNED}"


def pins(stack) -> dict:
    path = stack.state_dir / "pins.compose.yml"
    return yaml.safe_load(path.read_text().replace("!override", "")).get("x-runbook-pins") if path.exists() else {}


def image_of(stack, service: str) -> str:
    cid = stack.containers()[service][0]
    return subprocess.run(["docker", "inspect", "--format", "{{.Config.Image}}", cid],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip


def wait_healthy(cid: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        health = subprocess.run(["docker", "inspect", "--format", "{{.State.Health.Status}}", cid],
                                capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
        if health == "healthy":
            return
        time.sleep(0.5)
    raise AssertionError(f"{cid} not healthy after {seconds} s")


def settled(stack) -> dict:
    """stack.containers(), without the start time of a crash-looping billing-service (it changes on its own)."""
    found = stack.containers()
    if BILLING in found and image_of(stack, BILLING).endswith(":v1.2.5"):
        found[BILLING] = (found[BILLING][0], "crash-looping")
    return found


def unchanged_but(before: dict, after: dict, service: str) -> None:
    assert after[service] != before[service], f"{service} was not recreated"
    others = {k: v for k, v in before.items() if k != service}
    assert {k: after[k] for k in others} == others, "another container was restarted"


def test_broken_billing_release(stack):
    # Test scale: the gateway's error rate covers 10 s, so verification after the restart waits 10 s, not 60.
    stack.write_group_vars(
        rollback_compose_env=stack.compose_env(METRICS_WINDOW_SECONDS="10"),
        rollback_metrics_window=10,
    )
    stack.seed("v1.2.3")
    run = stack.playbook("deploy", version="v1.2.5", rollback_stage_timeout=20, rollback_replace="plain")
    assert run.rc != 0
    assert BILLING in run.output.rsplit("fatal:", 1)[-1]
    assert stack.get("/api/billing/health")[0] != 200


def test_unknown_service_is_refused_with_nothing_restarted(stack):
    before = settled(stack)
    run = stack.playbook("procedure_c", service="payments-service")
    assert run.rc != 0
    assert "service payments-service is not defined in the compose project" in run.output
    assert settled(stack) == before
    assert pins(stack) == {}
    assert not (stack.state_dir / "lock").exists()


def test_malformed_service_name_or_incident_is_refused_before_the_lock(stack):
    before = settled(stack)
    for extra, message in (
        ({"service": "billing-service;touch x"}, "is not a compose service name"),
        ({"incident": "../../etc"}, "must be letters, digits, dot, dash or underscore"),
    ):
        run = stack.playbook("procedure_c", **extra)
        assert run.rc != 0
        assert message in run.output
        assert "Take the deploy/rollback lock" not in run.output
    assert settled(stack) == before
    assert pins(stack) == {}


@pytest.mark.fault(
    "Two services failing at once",
    how="two services stopped for real",
    holds="Procedure C refuses, names both; nothing restarted",
)
def test_two_failing_services_are_refused_with_nothing_restarted(stack):
    email = stack.containers()["email-worker"][0]
    subprocess.run(["docker", "stop", "--time", "5", email], check=True, capture_output=True)
    try:
        before = settled(stack)
        run = stack.playbook("procedure_c")
        assert run.rc != 0
        message = run.output.rsplit("fatal:", 1)[-1]
        assert "2 services are failing" in message
        assert BILLING in message and "email-worker: exited" in message
        assert settled(stack) == before
        assert pins(stack) == {}
    finally:
        subprocess.run(["docker", "start", email], check=True, capture_output=True)
        wait_healthy(email)


def plan_lines(output: str, title: str) -> dict:
    plan = output.split(f"PLAN of {title}, nothing changed:", 1)[1]
    return {line.strip(' ",').split("  ", 1)[0]: line.strip(' ",') for line in plan.splitlines()[:12]}


def test_procedure_c_plan_names_the_service_and_changes_nothing(stack):
    before, history, pinned = settled(stack), stack.history(), pins(stack)
    run = stack.playbook("procedure_c", plan=True)
    assert run.rc == 0, run.output
    lines = plan_lines(run.output, "Procedure C")
    assert lines["service"].startswith(f"service       {BILLING} ("), lines
    assert "): v1.2.5 -> v1.2.3 (last known good" in lines["service"], lines
    assert lines["recreate"].startswith(f"recreate      {BILLING} alone, pinned to v1.2.3"), lines
    assert lines["to go ahead"] == (f"to go ahead   ansible-playbook playbooks/procedure_c.yml -e service={BILLING} "
                                    "-e version=v1.2.3")  # fmt: skip
    # Nothing changed: no pin, no container recreated, no history entry, no lock.
    assert (settled(stack), stack.history(), pins(stack)) == (before, history, pinned)
    assert not (stack.state_dir / "lock").exists()


def test_procedure_c_finds_billing_and_rolls_only_it_back(stack):
    before = stack.containers()
    history = stack.history()
    with notifying(stack) as receiver:
        run = stack.playbook("procedure_c", incident="inc-c1")
        sent = by_channel(receiver.take())
    assert run.rc == 0, run.output
    # A crash-looping container is seen between two of its starts: restarting, exited, or up and not yet
    # healthy (on a busy machine its interpreter takes longer to start and then die).
    said = f"failing: {BILLING} ("
    assert said in run.output, run.output[-3000:]
    reason = run.output.split(said, 1)[1].split("\n", 1)[0]
    assert reason.startswith(("restarting", "exited", "health starting", "unhealthy")), reason

    unchanged_but(before, stack.containers(), BILLING)
    assert image_of(stack, BILLING) == "mysaas/billing-service:v1.2.3"
    status, body = stack.get("/api/billing/health")
    assert (status, body.get("version")) == (200, "v1.2.3")
    assert stack.get("/api/chats/health")[1]["version"] == "v1.2.5"
    assert pins(stack) == {BILLING: "v1.2.3"}
    assert "PASS  health" in run.output and "PASS  smoke" in run.output
    assert f"log of {BILLING} since its restart" in run.output

    last = stack.history()[-1]
    assert len(stack.history()) == len(history) + 1
    assert (last["procedure"], last["version"], last["result"]) == ("C", "v1.2.5", "verified")
    assert (last["service"], last["service_version"], last["service_from_version"]) == (BILLING, "v1.2.3", "v1.2.5")
    assert last["pins"] == {BILLING: "v1.2.3"}
    assert last["services"][BILLING]["version"] == "v1.2.3"
    assert last["services"]["chat-service"]["version"] == "v1.2.5"

    incident = stack.state_dir / "incidents" / "inc-c1"
    assert (incident / f"{BILLING}-v1.2.5.log").stat().st_size > 0, "the broken container's log was not kept"
    assert (incident / f"{BILLING}-v1.2.3.log").exists()

    # The team was told: billing-service back to v1.2.3 (ETA from C's 5 minutes, the lead), then complete,
    # saying which service runs which release.
    assert_started(sent, stack.project, "C", "v1.2.3", from_version="v1.2.5", minutes=5)
    assert f"{BILLING} (" in sent["slack"][0]["json"]["text"] and "back to v1.2.3" in sent["slack"][0]["json"]["text"]
    assert_completed(sent, stack.project, "C", "v1.2.3", from_version="v1.2.5")
    assert incident_of(sent) == "inc-c1"
    completed = json.dumps(sent["slack"][-1]["json"], ensure_ascii=False)
    assert f"{BILLING} runs v1.2.3; the rest stays on v1.2.5" in completed
    assert assert_no_secret(run.kept, stack.state_dir, stack.timelines) > 0
    report = assert_report(stack.state_dir, "inc-c1", "C", ("Step 1", "Step 2", "Step 3"))
    assert report["service"] == BILLING


def test_mixed_state_is_not_a_known_good_release(stack):
    history = str(stack.state_dir / "deployments.jsonl")
    rc, result = stack.module("deploy_history", {"path": history, "state": "query"})
    assert rc == 0
    assert result["last_good"] == "v1.2.3"
    assert "v1.2.5" in result["bad_versions"]


def test_procedure_c_with_nothing_failing_is_refused_and_changes_nothing(stack):
    before = stack.containers()
    history = stack.history()
    run = stack.playbook("procedure_c")
    assert run.rc != 0
    assert "no failing service found" in run.output
    assert stack.containers() == before
    assert stack.history() == history


@pytest.mark.fault(
    "The release's image pruned from the engine",
    how="docker image rm --force",
    holds="Procedure C rebuilds it from the tag and rolls back",
)
def test_procedure_c_rebuilds_a_pruned_image(stack):
    # Back to the broken release: a whole-stack deploy drops the pin.
    assert stack.playbook("deploy", version="v1.2.5", rollback_stage_timeout=20, rollback_replace="plain").rc != 0
    assert pins(stack) == {}
    assert image_of(stack, BILLING) == "mysaas/billing-service:v1.2.5"
    # --force: untag it even where a stack still runs it, as a prune of old tags would.
    subprocess.run(["docker", "image", "rm", "--force", PRUNED_IMAGE], check=True, capture_output=True)

    before = stack.containers()
    run = stack.playbook("procedure_c", service=BILLING, version=PRUNED)
    assert run.rc == 0, run.output
    assert f"{PRUNED_IMAGE} is gone" in run.output
    unchanged_but(before, stack.containers(), BILLING)
    assert stack.get("/api/billing/health")[1]["version"] == PRUNED
    assert stack.history()[-1]["pins"] == {BILLING: PRUNED}


def test_a_whole_stack_rollback_ends_the_pin(stack):
    run = stack.playbook("procedure_a", version="v1.2.3")
    assert run.rc == 0, run.output
    assert pins(stack) == {}
    assert not (stack.state_dir / "pins.compose.yml").exists()
    for path in ("/health", "/api/chats/health", "/api/billing/health"):
        assert stack.get(path)[1]["version"] == "v1.2.3", path
    assert "pins" not in stack.history()[-1]
