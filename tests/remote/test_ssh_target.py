"""Procedures A, B, C and D, assess, backup and restore against a host that is not the controller: a
target with its own filesystem and Docker engine, reached over SSH with a key, running the staging stack.

State, lock, history, backups and the incident's files stay on the target; the incident report, and the
logs and evidence fetched from the target, are on the controller (rollback_report_dir); nothing is
written on the controller under the target's paths. The tests share one target and run in file order:
v1.2.4 rolled back by A (after a first attempt the target stopped answering in), v1.3.0's lost chats
restored by B, v1.2.5's billing pinned back by C, then D."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
from data import api, broken_with_data, counts, databases
from receiver import assert_no_secret
from reports import assert_report
from target import new_remote_stack

KNOWN_USER = {"email": "known.user@example.test", "password": "Known-user-pass-1"}
LATE = {"email": "late.user@example.test", "password": "Late-user-pass-1", "chat": "written on v1.3.0",
        "message": "only the kept database has it"}  # fmt: skip
ALL = {"postgres", "redis", "auth-service", "chat-service", "billing-service", "analytics-service",
       "email-worker", "api-gateway", "frontend", "proxy"}  # fmt: skip


@pytest.fixture(scope="module")
def stack():
    with new_remote_stack() as st:
        st.controller = st.root / "controller"
        st.write_group_vars(rollback_report_dir=str(st.controller / "incidents"))
        yield st


def running(stack) -> set[str]:
    out = stack.host(["docker", "ps", "--filter", f"label=com.docker.compose.project={stack.project}",
                      "--format", '{{.Label "com.docker.compose.service"}}']).stdout  # fmt: skip
    return set(out.split())


def target_copy(stack, path) -> object:
    """A directory of the target copied here (to read it with the tests' own helpers)."""
    dest = stack.root / "from-target" / path.name
    dest.parent.mkdir(exist_ok=True)
    subprocess.run(["docker", "cp", f"{stack.target.name}:{path}", str(dest)], check=True, capture_output=True)
    return dest


def assert_nothing_under_target_paths_here(stack) -> None:
    assert not stack.app_dir.parent.exists(), f"{stack.app_dir.parent} was written on the controller"


def test_assess_then_procedure_a_over_ssh_through_a_target_that_stopped_answering(stack):
    stack.seed("v1.2.3")
    stack.seed("v1.2.4", result="failed")
    assert stack.get("/api/chats/health")[1].get("version") == "v1.2.4"
    # assess samples the app on the target under the users' traffic, and decides A.
    with stack.traffic(seconds=40):
        run = stack.playbook("assess", incident="inc-ra", duration=12, interval=1, window_scale=0.0167)
    assert run.rc == 0, run.output
    decision = stack.decision("inc-ra")
    assert (decision["priority"], decision["procedure"], decision["last_known_good"]) == ("critical", "A", "v1.2.3")
    # The target stops answering mid-rollback (its sshd killed as the staged restart begins): the run ends with
    # one line saying where it was and what is known of the stack; its lock stays on the target.
    lost = stack.start_playbook("procedure_a", incident="inc-ra")
    seen = []
    for line in lost.stdout:
        seen.append(line)
        if line.startswith("TASK [runbook.rollback.staged_restart"):
            stack.target.exec(["pkill", "-x", "sshd"])
            break
    seen += lost.stdout.readlines()
    assert lost.wait(timeout=300) != 0, "".join(seen)
    last = seen[-1]
    assert last.startswith("target-1 stopped answering in step staged_restart"), "".join(seen[-40:])
    assert "after preflight, stop, checkout:" in last and "-e break_lock=true" in last, last
    assert stack.read(stack.state_dir / "lock") is not None
    # Once it answers, the next run finds that lock stale and says how to take over; told to, it completes.
    stack.target.exec(["/usr/sbin/sshd"])
    run = stack.playbook("procedure_a", incident="inc-ra")
    assert run.rc != 0 and "the lock is stale: the run that took it is gone" in run.output, run.output[-3000:]
    run = stack.playbook("procedure_a", incident="inc-ra", break_lock=True)
    assert run.rc == 0, run.output
    assert "target-1" in run.output and "unreachable=0" in run.output
    # The target runs the good release, its history says so, its lock is gone.
    assert stack.get("/api/chats/health")[1].get("version") == "v1.2.3"
    last = stack.history()[-1]
    # The run that took over found the work tree already at v1.2.3 (the lost run had checked it out).
    summary = (last["procedure"], last["version"], last["result"], last["from_version"])
    assert summary == ("A", "v1.2.3", "verified", "v1.2.3"), last
    assert stack.read(stack.state_dir / "lock") is None
    # The report is on the controller, under rollback_report_dir; nothing went to the target's paths here.
    report = assert_report(stack.controller, "inc-ra", "A", ("Step 1", "Step 2", "Step 3", "Step 4", "Step 5"))
    assert "target-1" in report["run"]["target"] and report["decision"]["priority"] == "critical", report["run"]
    assert_nothing_under_target_paths_here(stack)


def test_procedure_b_over_ssh_restores_and_loses_nothing(stack):
    broken = broken_with_data(stack, KNOWN_USER, LATE)
    run = stack.playbook("procedure_b", incident="inc-rb")
    assert run.rc == 0, run.output
    assert counts(stack) == {t: n + 1 for t, n in broken["row_counts"].items()}
    assert stack.get("/health")[1].get("version") == "v1.2.3"
    api(stack, "/api/auth/login", KNOWN_USER)
    assert len([d for d in databases(stack) if d.startswith("saas_db_before_rollback_")]) == 1
    report = assert_report(stack.controller, "inc-rb", "B", ("Step 1", "Step 2", "Steps 3-4", "Step 5", "Step 6"))
    assert {b["role"] for b in report["backups"]} == {"emergency backup", "restored", "kept database"}
    # backup.yml and restore.yml on their own: a manual backup, listed with the others.
    assert stack.playbook("backup").rc == 0
    listing = stack.playbook("restore", list=True)
    assert listing.rc == 0 and "manual" in listing.output and broken["id"] in listing.output, listing.output[-2000:]
    # No secret in the run's output, the target's state or what the controller keeps.
    assert assert_no_secret(run.kept, target_copy(stack, stack.state_dir), stack.controller, stack.timelines) > 0


def test_procedure_c_over_ssh_pins_one_service_and_fetches_its_logs(stack):
    run = stack.playbook("deploy", version="v1.2.5", rollback_stage_timeout=20, rollback_replace="plain")
    assert run.rc != 0
    before = stack.containers()
    run = stack.playbook("procedure_c", incident="inc-rc")
    assert run.rc == 0, run.output
    after = stack.containers()
    assert after["billing-service"] != before["billing-service"]
    assert {s: c for s, c in after.items() if s != "billing-service"} == {
        s: c for s, c in before.items() if s != "billing-service"}  # fmt: skip
    assert stack.get("/api/billing/health")[1].get("version") == "v1.2.3"
    assert stack.get("/api/chats/health")[1].get("version") == "v1.2.5"
    # The broken service's log, kept on the target, was fetched beside the report.
    log = stack.controller / "incidents" / "inc-rc" / "billing-service-v1.2.5.log"
    assert log.read_text() == stack.read(stack.state_dir / "incidents" / "inc-rc" / log.name)
    assert "PAYMENT_PROVIDER_URL" in log.read_text()
    assert_report(stack.controller, "inc-rc", "C", ("Step 1", "Step 2", "Step 3"))


def test_procedure_d_over_ssh_stops_everything_and_fetches_the_evidence(stack):
    assert running(stack) == ALL
    run = stack.playbook("procedure_d", incident="inc-rd")
    assert run.rc == 0, run.output
    assert running(stack) == set()
    (fetched,) = (stack.controller / "incidents" / "inc-rd" / "evidence").iterdir()
    manifest = json.loads((fetched / "manifest.json").read_text())
    on_target = stack.state_dir / "incidents" / "inc-rd" / "evidence" / fetched.name
    assert manifest == json.loads(stack.read(on_target / "manifest.json"))
    for entry in manifest["files"]:
        assert hashlib.sha256((fetched / entry["file"]).read_bytes()).hexdigest() == entry["sha256"], entry["file"]
    assert {c["service"] for c in manifest["containers"]} == ALL
    assert stack.read(stack.state_dir / "shutdown.json") is not None
    assert_nothing_under_target_paths_here(stack)
