"""Procedure A end to end on a real Docker stack, in the order an on-call engineer lives it.

The tests of this module share one stack and run in file order: deploy the good release,
deploy the broken one, roll back, and then try the ways a rollback must refuse to start.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import docker
import pytest
from engine_events import ContainerEvents
from receiver import (
    assert_completed,
    assert_no_secret,
    assert_started,
    by_channel,
    notifying,
    slack_texts,
    split_progress,
)
from reports import assert_report

DATA_SERVICES = ("postgres", "redis")


def test_deploy_good_release(stack):
    run = stack.playbook("deploy", version="v1.2.3")
    assert run.rc == 0, run.output
    status, health = stack.get("/health")
    assert (status, health["version"]) == (200, "v1.2.3")
    assert [(e["version"], e["result"]) for e in stack.history()] == [("v1.2.3", "verified")]
    assert "RUNBOOK TIMELINE" in run.output


def test_broken_release_fails_verification(stack):
    run = stack.playbook("deploy", version="v1.2.4")
    assert run.rc != 0
    assert "verification failed" in run.output
    assert "smoke" in run.output.split("verification failed", 1)[1]
    assert stack.get("/health")[1]["version"] == "v1.2.4"
    assert stack.history()[-1]["version"] == "v1.2.4"
    assert stack.history()[-1]["result"] == "failed"


def test_procedure_a_plan_says_what_it_would_do_and_changes_nothing(stack):
    before, history = stack.containers(), stack.history()
    run = stack.playbook("procedure_a", plan=True)
    assert run.rc == 0, run.output
    plan = run.output.split("PLAN of Procedure A, nothing changed:", 1)[1]
    lines = {line.strip(' ",').split("  ", 1)[0]: line.strip(' ",') for line in plan.splitlines()[:14]}
    assert lines["release"].startswith("release       v1.2.4 -> v1.2.3 (last known good"), plan
    assert lines["images"] == "images        all built", plan
    recreated = lines["recreate"].removeprefix("recreate      ").removesuffix(" (image differs)").split(", ")
    assert "chat-service" in recreated and "postgres" not in recreated, plan
    assert lines["keep running"].startswith("keep running  postgres, proxy, redis (same image"), plan
    # v1.2.3's proxy configuration differs from v1.2.4's: reloaded in place, not restarted.
    assert lines["reload"] == ("reload        proxy (its configuration changes: checked, then reloaded in place, "
                               "not restarted)"), plan  # fmt: skip
    assert lines["to go ahead"] == "to go ahead   ansible-playbook playbooks/procedure_a.yml -e version=v1.2.3", plan
    # Nothing changed: the same containers, the same history, no lock left, no report written.
    assert stack.containers() == before and stack.history() == history
    assert not (stack.state_dir / "lock").exists()
    assert not (stack.state_dir / "incidents").exists() or not any((stack.state_dir / "incidents").rglob("*.md"))


# A site's hooks (rollback_hooks): take the host out of its load balancer before the stop, check the flag
# and put it back after the verification, and say at every hook point what the run looked like then.
SEEN = """- name: Say which hook ran and what the run looked like
  ansible.builtin.debug:
    msg: >-
      HOOK {{ rollback_hook_point }} {{ rollback_run.release.to }} {{ rollback_run.changes_started }}
      {{ (rollback_run.verification or {}).passed | default('none') }}
"""
DRAIN = """- name: Take the host out of the load balancer
  ansible.builtin.copy:
    dest: "{{ drain_flag }}"
    content: "{{ rollback_run.run_id }}"
    mode: "0644"
"""
UNDRAIN = """- name: Put the host back into the load balancer (it was drained by this run)
  ansible.builtin.file:
    path: "{{ drain_flag }}"
    state: absent
  when: lookup('ansible.builtin.file', drain_flag) == rollback_run.run_id
"""


def progress_processes(root: Path) -> list[int]:
    """The progress update processes still running for playbooks of this stack (their directory is under it)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if b"plugin_utils.progress" in cmdline and cwd.startswith(str(root)):
            found.append(int(proc.name))
    return found


def hooks(directory: Path) -> dict:
    for name, text in (("seen", SEEN), ("drain", DRAIN), ("undrain", UNDRAIN)):
        (directory / f"{name}.yml").write_text(text)
    steps = ("stop", "checkout", "staged_restart", "verify")
    points = [f"{when}_{step}" for step in steps for when in ("before", "after")]
    hooks = {point: str(directory / "seen.yml") for point in points}
    hooks["before_stop"] = [str(directory / "drain.yml"), str(directory / "seen.yml")]
    hooks["after_verify"] = [str(directory / "seen.yml"), str(directory / "undrain.yml")]
    return hooks


def assert_side_by_side(events, service: str) -> None:
    """The new container started and was healthy before the old one was told to stop, which it did on its stop signal
    (no SIGKILL: its requests finished), and the old one went."""
    mine = [(name, action) for svc, name, action in events if svc == service]
    names = set(name for name, _action in mine)
    started = {name for name, action in mine if action == "start"}
    assert len(names) == 2 and len(started) == 1, mine
    (new,) = started
    (old,) = names - started
    order = [(name, action) for name, action in mine
             if (name, action) in ((new, "start"), (new, "health_status: healthy"), (old, "destroy"))
             or (name == old and action.startswith("kill"))]
    assert order == [(new, "start"), (new, "health_status: healthy"), (old, "kill 15"), (old, "destroy")], mine


def assert_plain(events, service: str) -> None:
    """The old container stopped before the new one started: a gap."""
    mine = [(name, action) for svc, name, action in events if svc == service and action in ("die", "start")]
    assert [action for _name, action in mine] == ["die", "start"], mine


def proxy_config(stack) -> str:
    """Which configuration of the proxy answered (the staging proxy says it in a header)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.port}/health", timeout=5) as resp:
        return resp.headers["X-Proxy-Config"]


def test_procedure_a_rolls_back_and_keeps_data_services_running(stack, tmp_path):
    before = stack.containers()
    # v1.2.4's deploy reloaded the proxy with its own configuration.
    assert proxy_config(stack) == "replica"
    flag = tmp_path / "drained"
    with ContainerEvents(stack.project) as watched, notifying(stack) as receiver:
        # Progress updates every 3 s instead of 15 min, the reason said with the start, and a watch of 3 s.
        run = stack.playbook("procedure_a", version="v1.2.3", incident="inc-a", rollback_hooks=hooks(tmp_path),
                             drain_flag=str(flag), rollback_notify_progress_minutes=0.05,
                             reason="checkout answers 502", verify_stability_seconds=3,
                             verify_stability_interval=1, rollback_singletons=["email-worker"],
                             rollback_probe=True)  # fmt: skip
        sent, updates = split_progress(by_channel(receiver.take()))
        # The updates stopped before the end was told, and their process is gone with the playbook.
        assert progress_processes(stack.root) == []
    assert run.rc == 0, run.output
    after = stack.containers()
    # The hooks ran around each step, in order, and saw the run record: its target, whether it had changed
    # anything, and the verification's verdict once there was one.
    assert re.findall(r'"msg": "HOOK (\S+) (\S+) (\S+) (\S+)"', run.output) == [
        ("before_stop", "v1.2.3", "False", "False"), ("after_stop", "v1.2.3", "True", "False"),
        ("before_checkout", "v1.2.3", "True", "False"), ("after_checkout", "v1.2.3", "True", "False"),
        ("before_staged_restart", "v1.2.3", "True", "False"), ("after_staged_restart", "v1.2.3", "True", "False"),
        ("before_verify", "v1.2.3", "True", "False"), ("after_verify", "v1.2.3", "True", "True"),
    ]  # fmt: skip
    assert "Take the host out of the load balancer" in run.output
    assert not flag.exists(), "the after_verify hook did not put the host back"

    status, health = stack.get("/health")
    assert (status, health["version"]) == (200, "v1.2.3")
    for service in ("auth", "chats", "billing", "analytics"):
        code, body = stack.get(f"/api/{service}/health")
        assert (code, body.get("version")) == (200, "v1.2.3"), service
    for service in DATA_SERVICES:
        assert after[service] == before[service], f"{service} was restarted"
    assert after["chat-service"] != before["chat-service"]
    # The services that may run twice were replaced side by side, the gateway too (the proxy holds the port users
    # reach); the singleton the plain way, and the run said why.
    events = watched.seen
    for service in ("auth-service", "chat-service", "billing-service", "analytics-service", "frontend", "api-gateway"):
        assert_side_by_side(events, service)
    assert_plain(events, "email-worker")
    said = [line for line in run.output.splitlines() if "replaced with a gap" in line]
    assert "replaced with a gap: email-worker (never runs twice at once (rollback_singletons))" in run.output, said
    # The proxy was never stopped nor recreated: v1.2.3's configuration of it was checked and reloaded in place.
    assert after["proxy"] == before["proxy"]
    assert not [action for service, _name, action in events
                if service == "proxy" and action.split()[0] in ("kill", "die", "start", "destroy")]
    assert "; reloaded in place: proxy" in run.output, said
    assert proxy_config(stack) == "base"
    last = stack.history()[-1]
    assert (last["version"], last["action"], last["result"], last["from_version"]) == (
        "v1.2.3",
        "rollback",
        "verified",
        "v1.2.4",
    )
    assert "PASS  smoke" in run.output

    # The team was told: in progress (ETA from A's 10 minutes, the lead), then complete on v1.2.3 once the checks
    # passed, then, after the 3 s watch, stable.
    assert_started(sent, stack.project, "A", "v1.2.3", from_version="v1.2.4", minutes=10)
    assert_completed(sent, stack.project, "A", "v1.2.3", from_version="v1.2.4", watched=3)
    assert "(checkout answers 502)" in slack_texts(sent)[0]
    assert "its outcome follows. Post-mortem scheduled for no later than " in slack_texts(sent)[-2]
    # The verification's report says the watch comes later; the watch's report judged it.
    assert "PASS  stability  watched for 3 s once the team is told the rollback is complete" in run.output
    assert re.search(r"PASS  stability  (error rate never at or above 1.0 % for \d+ s in 3 s|no error rate)",
                     run.output), [line for line in run.output.splitlines() if "stability" in line]  # fmt: skip
    # While it ran, the team heard how far it was and when it should be done: on Slack, the status page (the
    # same incident) and the webhook; never after the end, and PagerDuty never.
    assert updates["slack"], "no progress update in a run of %s" % run.output[-200:]
    for text in slack_texts(updates):
        head = f"⏳ ROLLBACK STILL IN PROGRESS on {stack.project}: Procedure A, v1.2.4 → v1.2.3 ("
        assert text.startswith(head), text
        assert " in, now: " in text and "Revised ETA: " in text and "UTC (~" in text, text
    assert [text for text in slack_texts(updates) if " in, now: Step 4: rebuild and restart in stages)" in text]
    # The status page: news on the start's incident, its status and components left as they were.
    assert {m["method"] for m in updates["statuspage"]} == {"PATCH"}
    assert {tuple(sorted(m["json"]["incident"])) for m in updates["statuspage"]} == {("body", "deliver_notifications")}
    assert {m["json"]["event"] for m in updates["webhook"]} == {"progress"} and not updates["pagerduty"]
    assert assert_no_secret(run.kept, stack.state_dir, stack.timelines) > 0
    # The incident report: the runbook's five steps against their budgets, v1.2.4 -> v1.2.3.
    report = assert_report(stack.state_dir, "inc-a", "A", ("Step 1", "Step 2", "Step 3", "Step 4", "Step 5"))
    assert (report["from_version"], report["to_version"]) == ("v1.2.4", "v1.2.3")
    # What users saw, probed at the critical endpoints all along: the gaps fall within the interruption the steps
    # account for.
    users = report["users"]
    assert users["url_count"] == 4 and "urls" not in users, users
    assert users["rounds"] > 20 and users["probes"] == 4 * users["rounds"], users
    assert users["without_answer_seconds"] <= report["downtime"]["seconds"], (users, report["downtime"])
    assert re.search(r"users (without an answer \d+\.\d s|always answered)", run.output)
    assert "RUNBOOK STEPS AGAINST BUDGET (Procedure A: Code rollback)" in run.output


def test_procedure_a_again_changes_nothing(stack):
    before = stack.containers()
    history = stack.history()
    run = stack.playbook("procedure_a", version="v1.2.3")
    assert run.rc == 0, run.output
    assert run.changed == 0, run.output
    assert stack.containers() == before
    assert stack.history() == history


def test_procedure_a_without_version_takes_last_known_good(stack):
    stack.seed("v1.2.4", result="failed")
    run = stack.playbook("procedure_a")
    assert run.rc == 0, run.output
    assert "Target v1.2.3 (last known good" in run.output
    assert stack.get("/health")[1]["version"] == "v1.2.3"


@pytest.fixture
def broken_stack(stack):
    """The stack on the broken release, so that a rollback would restart things."""
    if stack.get("/health")[1].get("version") != "v1.2.4":
        stack.seed("v1.2.4", result="failed")
    return stack


def assert_refused(stack, before, run, message):
    assert run.rc != 0
    assert message in run.output, run.output
    assert stack.containers() == before, "a container was stopped or recreated"
    assert stack.get("/health")[1]["version"] == "v1.2.4"


def test_missing_tag_is_refused_with_nothing_restarted(broken_stack):
    before = broken_stack.containers()
    run = broken_stack.playbook("procedure_a", version="v9.9.9", incident="inc-missing-tag")
    assert_refused(broken_stack, before, run, "tag v9.9.9 not found")
    # Refused once the lock was taken: the attempt is on record, failed, with nothing stopped.
    report = json.loads((broken_stack.state_dir / "incidents" / "inc-missing-tag" / "report.json").read_text())
    assert report["status"] == "failed" and "tag v9.9.9 not found" in report["reason"]
    assert report["downtime"] == {"seconds": 0.0, "from": None, "to": None, "ongoing": False,
                                  "basis": "no service was stopped by this run"}  # fmt: skip


@pytest.mark.fault(
    "A malformed or hostile version",
    how="-e version=...",
    holds="refused before the lock, in one line; nothing restarted",
)
@pytest.mark.parametrize("bad", ["1.2.3", "v1.2", "latest", "v1.2.3;touch {marker}", "v1.2.3 --force"])
def test_malformed_version_is_refused_with_nothing_restarted(broken_stack, bad, tmp_path):
    marker = tmp_path / "injected"
    before = broken_stack.containers()
    run = broken_stack.playbook("procedure_a", version=bad.format(marker=marker), incident="inc-bad-input")
    assert_refused(broken_stack, before, run, "invalid version")
    assert not marker.exists()
    # Refused at its input: not even an incident report is left behind.
    assert not (broken_stack.state_dir / "incidents" / "inc-bad-input").exists()


def test_shell_metacharacters_on_the_command_line_are_refused(broken_stack, tmp_path):
    marker = tmp_path / "injected"
    before = broken_stack.containers()
    run = broken_stack.playbook("procedure_a", "-e", f"version=v1.2.3;touch {marker}")
    assert_refused(broken_stack, before, run, "invalid version")
    assert not marker.exists()


@pytest.mark.fault(
    "A deploy or rollback already running (its lock held by a live process)",
    how="a lock naming a live process",
    holds="refused in one line naming the holder; no container stopped or recreated",
)
def test_held_lock_is_refused_with_nothing_restarted(broken_stack):
    lock = Path(broken_stack.state_dir) / "lock"
    holder = {
        "run_id": f"other-{uuid.uuid4().hex[:6]}",
        "owner": {"procedure": "A", "version": "v1.2.2", "user": "alice"},
        "host": "elsewhere",
        "pid": 1,
        "acquired_at": "2026-11-28T10:00:00Z",
    }
    lock.write_text(json.dumps(holder))
    try:
        before = broken_stack.containers()
        run = broken_stack.playbook("procedure_a", version="v1.2.3")
        assert_refused(broken_stack, before, run, "holds the lock")
        assert "alice" in run.output
        assert json.loads(lock.read_text())["run_id"] == holder["run_id"], "the other run's lock was touched"
    finally:
        lock.unlink()


@pytest.mark.fault(
    "The git origin unreachable",
    how="origin pointed at a path that does not exist",
    holds="the rollback uses the local tags and says so",
)
def test_unreachable_origin_falls_back_to_local_tags(broken_stack):
    broken_stack_git = ["git", "-C", str(broken_stack.app_dir)]
    url = subprocess.run([*broken_stack_git, "remote", "get-url", "origin"], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    subprocess.run([*broken_stack_git, "remote", "set-url", "origin", "/nonexistent/origin.git"], check=True)
    try:
        run = broken_stack.playbook("procedure_a", version="v1.2.3")
        assert run.rc == 0, run.output
        assert "could not fetch from origin" in run.output
        assert broken_stack.get("/health")[1]["version"] == "v1.2.3"
    finally:
        subprocess.run([*broken_stack_git, "remote", "set-url", "origin", url.strip()], check=True)


def test_full_stop_mode_stops_everything_first(stack):
    stack.seed("v1.2.4", result="failed")
    before = stack.containers()
    run = stack.playbook("procedure_a", "-e", "stop_mode=full", version="v1.2.3")
    assert run.rc == 0, run.output
    after = stack.containers()
    for service in DATA_SERVICES:
        assert after[service] != before[service], f"full mode left {service} running"
    assert stack.get("/health")[1]["version"] == "v1.2.3"


def test_timeline_records_each_step(stack):
    latest = json.loads((Path(stack.timelines) / "latest.json").read_text())
    # The runbook's steps, in order; the procedure's own bookkeeping (attempts, history) may come in between.
    steps = [s for s in latest["steps"] if s["name"] in ("preflight", "stop", "checkout", "staged_restart", "verify")]
    assert [s["name"] for s in steps] == ["preflight", "stop", "checkout", "staged_restart", "verify"]
    assert all(s["status"] == "ok" for s in steps)


def why_it_ended(lines: list[str]) -> str:
    """What a run said of its failures (checks, tasks, warnings) wherever they are, then its last lines."""
    said = [line for line in lines if re.search(r"^\s*(FAIL |fatal:|failed:|\[WARNING\])", line)]
    return "".join(said)[-3000:] + "\n...\n" + "".join(lines)[-2000:]


@pytest.mark.fault(
    "A stack that does not stay stable once the rollback was told complete",
    how="under traffic, the fake Stripe told to fail every call (redis-cli in Redis, Docker SDK) once the team "
    "heard 'complete'",
    holds="the watch fails: the team hears it as a failure and level 2 is paged; the release is recorded unstable",
)
def test_a_stack_that_does_not_stay_stable_is_told_and_escalated(broken_stack):
    redis = docker.from_env().containers.get(broken_stack.containers()["redis"][0])
    lines: list[str] = []
    with notifying(broken_stack) as receiver, broken_stack.traffic(seconds=300):
        # A 10 s error-rate window, so that the failing checkouts show within seconds of the fault.
        proc = broken_stack.start_playbook(
            "procedure_a", version="v1.2.3", incident="inc-unstable", verify_stability_seconds=120,
            verify_stability_interval=1, verify_stability_sustained=4,
            rollback_compose_env=broken_stack.compose_env(METRICS_WINDOW_SECONDS="10"),
        )  # fmt: skip
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        try:
            while not any((m["json"] or {}).get("event") == "completed" for m in list(receiver.requests)):
                assert proc.poll() is None, "the run ended before it told 'complete':\n" + why_it_ended(lines)
                time.sleep(0.2)
            code, out = redis.exec_run(["redis-cli", "set", "staging:fail:stripe", "100"])
            assert code == 0, out
            proc.wait(timeout=300)
        finally:
            redis.exec_run(["redis-cli", "del", "staging:fail:stripe"])
            if proc.poll() is None:
                proc.kill()
        reader.join(timeout=30)
        sent = split_progress(by_channel(receiver.take()))[0]
    output = "".join(lines)
    assert proc.returncode != 0, output[-3000:]
    # Said at once: the checks had passed, then the watch saw the checkouts fail.
    assert "PASS  stability  watched for 120 s once the team is told the rollback is complete" in output
    assert re.search(r"FAIL  stability  error rate at or above 1.0 % for 4 s", output), output[-3000:]
    failure = [line for line in output.splitlines() if "did not stay stable in the watch" in line]
    assert failure and "Procedure A failed: the rollback to v1.2.3 was told complete" in failure[-1], output[-3000:]
    # The team: complete (the status page's incident left monitoring), then the failure and level 2, never stable.
    texts = slack_texts(sent)
    assert [t.split(" ")[1] for t in texts] == ["ROLLBACK", "ROLLBACK", "ROLLBACK", "ESCALATION"], texts
    assert texts[1].startswith("✅ ROLLBACK COMPLETE") and "Monitoring for stability for 2m00s" in texts[1]
    assert texts[2].startswith("❌ ROLLBACK FAILED") and "did not stay stable" in texts[2], texts[2]
    assert "to level 2 (DevOps lead): the rollback failed" in texts[3], texts[3]
    statuses = [m["json"]["incident"].get("status") for m in sent["statuspage"]]
    assert statuses[:3] == ["identified", "monitoring", "investigating"], statuses
    assert [p["json"]["event_action"] for p in sent["pagerduty"]][:2] == ["resolve", "trigger"]
    # No later rollback takes v1.2.3 for known-good: its last entry says it did not stay stable.
    last = broken_stack.history()[-1]
    assert (last["version"], last["action"], last["result"]) == ("v1.2.3", "rollback", "unstable"), last
    assert "stability: error rate at or above" in last["reason"]
    assert broken_stack.get("/health")[1]["version"] == "v1.2.3"


SIGNAL_APP = """
services:
  app:
    image: runbook-rollback/base:bookworm
    pull_policy: never
    command: {command}
    environment: {{RELEASE: "{release}"}}
    healthcheck: {{test: ["CMD", "true"], interval: 1s, start_period: 0s}}
"""
# As PID 1 without a handler, sleep ignores SIGTERM (as a service that never sees its stop signal does); the shell
# exits on it.
DEAF = '["sleep", "infinity"]'
HEARS = '["sh", "-c", "trap \\"exit 0\\" TERM; while :; do sleep 0.1; done"]'


@pytest.mark.fault(
    "A service that does not exit on its stop signal",
    how="a container whose PID 1 has no handler for SIGTERM (sleep), replaced side by side with a 1 s stop timeout",
    holds="it is killed at the end of the timeout and the run says so in a warning naming it; one that exits on its "
    "signal goes without a word",
)
def test_an_old_container_killed_rather_than_stopped_is_said(stack, tmp_path):
    project = f"rbsig{uuid.uuid4().hex[:6]}"
    compose = tmp_path / "compose.yml"
    argv = ["docker", "compose", "-p", project, "-f", str(compose)]

    def replace() -> tuple[int, dict]:
        return stack.module("compose_up", {"compose_argv": argv, "compose_env": {}, "services": ["app"],
                                           "replace": "side_by_side", "stop_timeout": 1, "wait_timeout": 60})

    try:
        compose.write_text(SIGNAL_APP.format(command=DEAF, release="1"))
        subprocess.run([*argv, "up", "--detach", "--wait"], check=True, capture_output=True)
        compose.write_text(SIGNAL_APP.format(command=HEARS, release="2"))
        rc, result = replace()
        assert rc == 0, result
        ((entry),) = result["replaced"]
        assert (entry["how"], entry.get("killed")) == ("side_by_side", True), result
        (warning,) = [w for w in result.get("warnings", []) if "stop signal" in w]
        assert warning.startswith(f"app: the old container {entry['old']} did not exit on its stop signal"), warning
        # The one that takes its signal goes without a word.
        compose.write_text(SIGNAL_APP.format(command=HEARS, release="3"))
        rc, result = replace()
        assert rc == 0, result
        assert [(e["how"], e.get("killed")) for e in result["replaced"]] == [("side_by_side", None)], result
        assert not [w for w in result.get("warnings", []) if "stop signal" in w], result
    finally:
        subprocess.run([*argv, "down", "--volumes", "--timeout", "0"], capture_output=True, check=False)
