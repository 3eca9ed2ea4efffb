"""After the drill: the broken release was detected from the metrics and rolled back, and the
staging stack runs the good release again, healthy end to end. The stack, its history and its decisions are
on the drill's host (read over SSH); the timeline, the report and the users' traffic on this machine."""

import json
import os

from drill_checks import (
    DATA_SERVICES,
    INCIDENTS,
    REPORTS,
    SERVICES,
    STAGING,
    STATE,
    TIMELINES,
    TRAFFIC,
    containers,
    get,
    here_files,
    here_json,
    history,
    read_json,
)

PROJECT = "drill-procedure-a"
GATEWAY = "http://127.0.0.1:18091"
# Procedure A's steps, in the order the timeline records them.
STEPS = ["assess", "preflight", "stop", "checkout", "staged_restart", "verify", "history"]


def test_every_service_runs_and_is_healthy(host):
    by_service = containers(host, PROJECT)
    assert set(by_service) == SERVICES
    for service, container in by_service.items():
        assert container["State"]["Status"] == "running", service
        assert container["State"]["Health"]["Status"] == "healthy", f"{service}: {container['State']['Health']}"


def test_gateway_and_services_report_the_good_release(host):
    for path in ("/health", "/api/auth/health", "/api/chats/health", "/api/billing/health", "/api/analytics/health"):
        answer = get(host, GATEWAY + path)
        assert answer["status"] == 200, path
        assert answer["body"]["version"] == "v1.2.3", path


def test_work_tree_is_at_the_good_release(host):
    tag = host.check_output("git -C %s describe --tags --exact-match HEAD", STAGING + "/app")
    assert tag == "v1.2.3"


def test_history_records_the_rollback(host):
    last = history(host)[-1]
    assert (last["version"], last["action"], last["result"]) == ("v1.2.3", "rollback", "verified")
    assert (last["procedure"], last["from_version"]) == ("A", "v1.2.4")
    assert not set(DATA_SERVICES) & set(last["restarted"]), last["restarted"]


def test_the_broken_release_was_detected_from_the_metrics(host):
    # The first converge's assessment, under traffic on v1.2.4 (the second converge does not
    # overwrite it: see converge.yml).
    decision = read_json(host, INCIDENTS + "/drill/decision.json")
    assert (decision["priority"], decision["decision"], decision["procedure"]) == ("critical", "rollback_now", "A")
    assert (decision["running_version"], decision["last_known_good"]) == ("v1.2.4", "v1.2.3")
    assert decision["inputs"]["source"] == "app"
    assert decision["triggers"], decision["summary"]
    rates = [s["error_rate"] for s in decision["inputs"]["samples"] if s.get("error_rate") is not None]
    assert rates and max(rates) >= 5, rates


def test_after_the_rollback_nothing_is_left_to_roll_back(host):
    decision = read_json(host, INCIDENTS + "/drill-recheck/decision.json")
    assert (decision["priority"], decision["decision"], decision["procedure"]) == ("none", "none", None)
    assert decision["running_version"] == "v1.2.3"
    assert decision["triggers"] == []
    # Decided on figures from the traffic, not for want of them.
    rates = [s["error_rate"] for s in decision["inputs"]["samples"] if s.get("error_rate") is not None]
    assert rates and max(rates) < 1, rates


def test_data_services_and_the_proxy_were_not_restarted(host):
    decided_at = read_json(host, INCIDENTS + "/drill/decision.json")["decided_at"]
    for service, container in containers(host, PROJECT).items():
        # The proxy users reach is reloaded in place when its configuration changes, never restarted.
        if service in DATA_SERVICES or service == "proxy":
            started = container["State"]["StartedAt"]
            # Both UTC, ISO 8601: compare to the second.
            assert started[:19] < decided_at[:19], f"{service} started at {started}, after the detection"


def test_users_saw_the_switch_back(host):
    # The first converge's traffic: the broken release, then the good one.
    result = here_json(here_files(TRAFFIC, ".json")[0])
    assert result["versions_seen"] == ["v1.2.4", "v1.2.3"], result["versions_seen"]
    assert result["requests"] > 0 and result["failed"] > 0


def test_timeline_reports_every_step(host):
    # The first converge's timeline: detection and rollback, step by step.
    timeline = here_json(here_files(TIMELINES, "-converge.json")[0])
    assert timeline["status"] == "ok"
    steps = {step["name"]: step for step in timeline["steps"]}
    assert [name for name in steps if name in STEPS] == STEPS
    for name in STEPS:
        assert steps[name]["status"] == "ok", steps[name]
    assert 0 < sum(steps[name]["duration"] for name in STEPS) <= timeline["duration"]


def test_the_incident_report_shows_each_step_against_its_budget_and_the_metrics(host):
    incident = os.path.join(REPORTS, "drill")
    report = here_json(os.path.join(incident, "report.json"))
    assert (report["procedure"], report["status"], report["to_version"]) == ("A", "ok", "v1.2.3")
    steps = {step["name"]: step for step in report["steps"]}
    assert all(name in steps for name in STEPS), sorted(steps)
    assert steps["stop"]["budget"] == {"low": 30, "high": 30}
    assert steps["staged_restart"]["budget"] == {"low": 180, "high": 300}
    labels = [row["label"] for row in report["runbook_steps"]]
    assert labels[:2] == ["Assess the situation", "Step 1: identify the last known good release"]
    # Detected from the metrics: the assessment's samples are in the report, the rollback marked.
    assert report["decision"]["decision"] == "rollback_now" and len(report["metrics"]["samples"]) > 3
    # ... and the stability watch's, after the restart: the picture shows both sides of the rollback.
    after = [sample for sample in report["metrics"]["samples"] if sample["ts"] > report["metrics"]["restored_at"]]
    assert sum(1 for sample in after if "error_rate" in sample) >= 5
    assert report["downtime"]["seconds"] > 0 and report["downtime"]["ongoing"] is False
    items = {item["item"]: item for checklist in report["checklists"] for item in checklist["items"]}
    assert items["Issue identified and documented"]["state"] == "done"
    assert items["Health checks passing"]["state"] == "done" and items["Post-mortem scheduled"]["state"] == "open"
    for name in ("report.md", "report.html", "postmortem.md"):
        assert os.path.getsize(os.path.join(incident, name)) > 0, name
    # A copy of the run's record stays on the drill's host.
    copies = host.check_output("ls -1 %s", INCIDENTS + "/drill").split()
    assert any(name.startswith("run-") and name.endswith(".json") for name in copies), copies


def test_the_drill_is_recorded_on_the_staging_host_against_its_budgets(host):
    # One drill per molecule run (the idempotence pass rolls nothing back); the log of this host holds it.
    lines = host.file(STATE + "/drills.jsonl").content_string.splitlines()
    drill = json.loads(lines[-1])
    assert (drill["procedure"], drill["from_version"], drill["to_version"], drill["result"]) == (
        "A", "v1.2.4", "v1.2.3", "pass")  # fmt: skip
    labels = [row["label"] for row in drill["steps"]]
    assert labels[:2] == ["Assess the situation", "Step 1: identify the last known good release"], labels
    assert all(row["seconds"] >= 0 and row["verdict"] in ("within", "over", "no budget") for row in drill["steps"])
    assert drill["downtime"]["seconds"] is not None and drill["interruption_seconds"] > 0
    record = host.file(STATE + "/drill-record.md").content_string
    for heading in ("## Last Tested", "## Test Results", "## Improvements", "## Drill log"):
        assert heading in record, record
    assert "Procedure A, v1.2.4 to v1.2.3 (incident drill): **PASS**" in record
