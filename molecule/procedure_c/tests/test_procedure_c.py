"""After the Procedure C drill: billing-service runs v1.2.3 again, nothing else was restarted, and the
history, the pin, the logs and the timeline say so."""

import os

from drill_checks import INCIDENTS, STATE, TIMELINES, containers, get, history, read_json

PROJECT = "drill-procedure-c"
GATEWAY = "http://127.0.0.1:18094"
BILLING = "billing-service"
# Procedure C's steps, in the order the timeline records them.
STEPS = ["assess", "single_service", "verify", "history"]


def test_the_decision_was_procedure_c_for_billing(host):
    decision = read_json(host, INCIDENTS + "/drill/decision.json")
    assert (decision["decision"], decision["procedure"], decision["service"]) == ("rollback_now", "C", BILLING)


def test_billing_runs_the_last_good_release_and_answers(host):
    answer = get(host, GATEWAY + "/api/billing/health")
    assert (answer["status"], answer["body"]["version"]) == (200, "v1.2.3")
    billing = containers(host, PROJECT)[BILLING]
    assert billing["Config"]["Image"] == "mysaas/billing-service:v1.2.3"
    assert billing["State"]["Health"]["Status"] == "healthy"


def test_no_other_container_was_restarted(host):
    running = containers(host, PROJECT)
    restarted = running[BILLING]["State"]["StartedAt"]
    # Every other container was started by the deploys of prepare, before billing-service's restart.
    for service, c in running.items():
        if service != BILLING:
            assert c["State"]["StartedAt"] < restarted, service
            assert c["State"]["Status"] == "running", service
    assert running["chat-service"]["Config"]["Image"].endswith(":v1.2.5")


def test_the_pin_and_the_history_record_the_mixed_state(host):
    pins = host.file(STATE + "/pins.compose.yml").content_string
    assert "x-runbook-pins:" in pins and "billing-service: v1.2.3" in pins
    last = history(host)[-1]
    assert (last["procedure"], last["version"], last["result"]) == ("C", "v1.2.5", "verified")
    assert (last["service"], last["service_version"], last["service_from_version"]) == (BILLING, "v1.2.3", "v1.2.5")
    assert last["pins"] == {BILLING: "v1.2.3"}
    assert last["services"]["chat-service"]["version"] == "v1.2.5"
    assert [e["procedure"] for e in history(host)].count("C") == 1, "the idempotence run recorded another rollback"


def test_the_logs_of_both_containers_are_kept(host):
    assert host.file(os.path.join(INCIDENTS, "drill", BILLING + "-v1.2.5.log")).size > 0
    assert host.file(os.path.join(INCIDENTS, "drill", BILLING + "-v1.2.3.log")).exists


def test_timeline_reports_every_step(host):
    names = sorted(n for n in host.check_output("ls -1 %s", TIMELINES).splitlines() if n.endswith("-converge.json"))
    timeline = read_json(host, os.path.join(TIMELINES, names[0]))
    assert timeline["status"] == "ok"
    steps = {step["name"]: step for step in timeline["steps"]}
    assert [name for name in steps if name in STEPS] == STEPS
    for name in STEPS:
        assert steps[name]["status"] == "ok", steps[name]


def test_the_incident_report_shows_each_step_against_its_budget_and_the_pin(host):
    incident = os.path.join(INCIDENTS, "drill")
    report = read_json(host, os.path.join(incident, "report.json"))
    assert (report["procedure"], report["status"], report["service"]) == ("C", "ok", BILLING)
    steps = {step["name"]: step for step in report["steps"]}
    assert all(name in steps for name in STEPS + ["single_service_replace"]), sorted(steps)
    assert steps["single_service_replace"]["budget"] == {"low": 120, "high": 180}
    # Only the one service was away: the interruption is that service's recreate, and lies within it
    # (the report gives the interruption to a tenth of a second, and its ends to the second).
    replace, down = steps["single_service_replace"], report["downtime"]
    assert 0 < down["seconds"] <= replace["duration"] + 0.05, (down, replace)
    within = replace["started_at"][:19] <= down["from"][:19] <= down["to"][:19] <= replace["ended_at"][:19]
    assert within, (down, replace)
    assert any("pinned" in follow_up for follow_up in report["follow_ups"])
    assert host.file(os.path.join(incident, "report.html")).contains('data-step="single_service_replace"')
