"""Procedure D, the emergency shutdown, on a healthy stack and on a badly broken one: the evidence is
kept before anything stops, then nothing of the project runs (or only the data services, on request).

The tests share one stack and run in file order."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
from receiver import SECRETS, Receiver, assert_no_secret, by_channel

ALL = {"postgres", "redis", "auth-service", "chat-service", "billing-service", "analytics-service",
       "email-worker", "api-gateway", "frontend", "proxy"}  # fmt: skip


def running(stack) -> set[str]:
    out = subprocess.run(
        ["docker", "ps", "--filter", f"label=com.docker.compose.project={stack.project}",
         "--format", '{{.Label "com.docker.compose.service"}}'],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return set(out.split())


def evidence(stack, incident: str):
    (dest,) = (stack.state_dir / "incidents" / incident / "evidence").iterdir()
    return dest, json.loads((dest / "manifest.json").read_text())


def test_a_healthy_stack_is_shut_down_with_its_evidence(stack):
    stack.seed("v1.2.3")
    assert running(stack) == ALL
    # The plan first: what it would stop and keep, with nothing stopped and no mark written.
    plan = stack.playbook("procedure_d", incident="inc-d1", plan=True)
    assert plan.rc == 0, plan.output
    lines = plan.output.split("PLAN of Procedure D, nothing changed:", 1)[1].splitlines()
    stop = next(line.strip(' ",') for line in lines if line.strip(' "').startswith("stop "))
    assert stop == "stop          " + ", ".join(sorted(ALL)) + " (every running container of the project)", stop
    assert running(stack) == ALL
    assert not (stack.state_dir / "shutdown.json").exists() and not (stack.state_dir / "incidents").exists()
    receiver = Receiver()
    try:
        stack.write_group_vars(**receiver.channel_vars())
        run = stack.playbook("procedure_d", incident="inc-d1", reason="sessions of other tenants in the export",
                             signals="security_breach")  # fmt: skip
        sent = by_channel(receiver.take())
    finally:
        receiver.close()
        stack.write_group_vars(**{k: type(v)() for k, v in receiver.channel_vars().items()})
    assert run.rc == 0, run.output
    assert running(stack) == set()

    # The team is told why on every channel and, a breach being reported, escalated to level 4 (leadership) with
    # every reason that holds; no secret is shown.
    shutdown, escalation = (m["json"]["text"] for m in sent["slack"])
    assert shutdown.startswith(
        f"🚨 EMERGENCY SHUTDOWN on {stack.project}: sessions of other tenants in the export; {stack.project} is shut "
        "down; evidence in "), shutdown  # fmt: skip
    assert escalation.endswith(
        f"ESCALATION on {stack.project} to level 4 (CTO): data integrity is at risk; security breach"
    ), escalation
    assert sent["pagerduty"][-1]["json"]["payload"]["severity"] == "critical"
    pagerduty = sent["pagerduty"][0]["json"]
    assert (pagerduty["event_action"], pagerduty["dedup_key"]) == ("trigger", "runbook-rollback-inc-d1")
    assert sent["webhook"][0]["json"]["event"] == "shutdown"
    assert all(secret not in run.output for secret in SECRETS)
    dest, manifest = evidence(stack, "inc-d1")
    assert {c["service"] for c in manifest["containers"]} == ALL
    assert all(c["status"] == "running" for c in manifest["containers"])
    for c in manifest["containers"]:
        log = dest / c["log"]
        assert log.stat().st_size > 0, c
        assert oct(log.stat().st_mode & 0o777) == "0o640"
    inspected = json.loads((dest / "inspect.json").read_text())
    assert len(inspected) == len(ALL)
    # Every environment value is redacted, names kept: the database password the stack was given is
    # nowhere in the evidence, nor in any other file of the state directory, nor in the output.
    postgres = next(c for c in inspected if c["Config"]["Labels"]["com.docker.compose.service"] == "postgres")
    assert "POSTGRES_PASSWORD=<redacted>" in postgres["Config"]["Env"]
    assert assert_no_secret(run.kept, stack.state_dir, stack.timelines) > len(ALL)
    assert json.loads((dest / "version.json").read_text())["describe"] == "v1.2.3"
    assert (dest / "compose-ps.json").stat().st_size > 0
    for f in manifest["files"]:
        assert hashlib.sha256((dest / f["file"]).read_bytes()).hexdigest() == f["sha256"], f["file"]
    assert manifest["problems"] == []

    # The incident report: every step with its time and budget, the shutdown still counting as downtime,
    # the human items open, the notifications sent, and no secret in any of its files.
    incident = stack.state_dir / "incidents" / "inc-d1"
    report = json.loads((incident / "report.json").read_text())
    assert (report["procedure"], report["status"], report["from_version"]) == ("D", "ok", "v1.2.3")
    steps = {s["name"]: s for s in report["steps"]}
    assert {"procedure_d", "notify", "report"} <= set(steps)
    assert steps["procedure_d"]["budget"] == {"low": 60, "high": 60} and steps["procedure_d"]["duration"] > 0
    assert report["downtime"]["ongoing"] is True and report["downtime"]["seconds"] > 0
    items = {i["item"]: i for c in report["checklists"] for i in c["items"]}
    assert items["Services stopped"]["state"] == "done" and items["Services stopped"]["at"]
    assert items["Team notified"]["state"] == "done" and items["Team notified"]["at"] >= report["started_at"][:19]
    assert items["Status page updated"]["state"] == "done"
    assert items["Post-mortem scheduled"]["state"] == "open"
    assert {(n["channel"], n["event"], n["ok"]) for n in report["notifications"]} >= {
        ("slack", "shutdown", True),
        ("pagerduty", "shutdown", True),
    }
    assert "RUNBOOK STEPS AGAINST BUDGET (Procedure D: Emergency shutdown)" in run.output
    for name in ("report.md", "report.html", "postmortem.md", "timeline.json", "report.json"):
        text = (incident / name).read_text()
        assert all(secret not in text for secret in SECRETS), name
    assert "| procedure_d |" in (incident / "report.md").read_text()


@pytest.mark.fault(
    "A deploy and a rollback after an emergency shutdown",
    how="deploy.yml and procedure_a.yml after procedure_d.yml",
    holds="both refused in one line, nothing started, until procedure_d.yml -e clear=true",
)
def test_nothing_is_started_again_until_the_shutdown_is_cleared_deliberately(stack):
    mark = json.loads((stack.state_dir / "shutdown.json").read_text())
    assert mark["incident"] == "inc-d1"
    for playbook, extra in (("deploy", {"version": "v1.2.3"}), ("procedure_a", {"version": "v1.2.3"})):
        run = stack.playbook(playbook, **extra)
        assert run.rc != 0
        assert f"Procedure D shut {stack.project} down (inc-d1, since {mark['at']})" in run.output, run.output
        assert "procedure_d.yml -e clear=true" in run.output
        assert running(stack) == set()
        assert not (stack.state_dir / "lock").exists()

    run = stack.playbook("procedure_d", clear=True)
    assert run.rc == 0, run.output
    assert f"cleared the emergency shutdown of {stack.project} (inc-d1" in run.output
    assert not (stack.state_dir / "shutdown.json").exists()
    assert running(stack) == set(), "clearing the shutdown starts nothing"


@pytest.mark.fault(
    "A crash-looping service, a dead gateway and a dirty work tree, then Procedure D",
    how="v1.2.5 deployed, the gateway killed, a file edited",
    holds="D keeps the evidence and stops all but the data services",
)
def test_a_crash_looping_stack_with_a_dead_gateway_and_a_dirty_tree_keeps_its_data_services(stack):
    # v1.2.5's billing-service exits at startup and restarts in a loop; then the gateway dies.
    run = stack.playbook("deploy", version="v1.2.5", rollback_stage_timeout=15, rollback_replace="plain")
    assert run.rc != 0
    stack.compose("kill", "api-gateway")
    assert "api-gateway" not in running(stack)
    (stack.app_dir / "README.md").write_text("edited on the host during the incident\n")
    run = stack.playbook("procedure_d", incident="inc-d2", keep_data=True)
    assert run.rc == 0, run.output
    assert running(stack) == {"postgres", "redis"}
    dest, manifest = evidence(stack, "inc-d2")
    billing = next(c for c in manifest["containers"] if c["service"] == "billing-service")
    assert billing["restart_count"] > 0 or billing["status"] in ("restarting", "exited"), billing
    assert "PAYMENT_PROVIDER_URL" in (dest / billing["log"]).read_text()
    version = json.loads((dest / "version.json").read_text())
    assert version["describe"].endswith("-dirty") and "README.md" in version["status"]
    assert "keeping the data services running" in run.output or "still running for forensics" in run.output


def test_a_bad_incident_id_is_refused_with_nothing_stopped(stack):
    before = running(stack)
    run = stack.playbook("procedure_d", incident="../../etc")
    assert run.rc != 0 and "must be letters, digits, dot, dash or underscore" in run.output
    assert running(stack) == before
