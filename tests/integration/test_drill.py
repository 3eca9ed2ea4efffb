"""awx/controller.yml's job templates launched as AWX launches them (tests/integration/awxjob.py), on a staging stack
of its own: each template that only reads or plans, with its survey's answers; then the quarterly drill
(playbooks/drill.yml) as the "Rollback: drill" template runs on its schedule: refused where the inventory does not
allow drills, then run twice. Each drill deploys the broken release, detects it from the metrics under the drill's
users, rolls back and verifies, and the drill log on the host shows both drills and what changed between them.
(assess and auto, the workflow's chain, are test_assess's.)

The tests share one stack and run in file order."""

from __future__ import annotations

import json

import pytest
from awxjob import Awx

# The drill job's own extra variables (a site sets them on the template): the runbook's minutes as seconds.
SCALE = {"duration": 12, "interval": 1, "window_scale": 0.0167}
SCHEDULED = {"awx_job_launch_type": "scheduled", "awx_schedule_name": "Quarterly rollback drill", "awx_schedule_id": 7}


@pytest.fixture(scope="module")
def staging(stack):
    stack.seed("v1.2.3")
    return stack


@pytest.fixture(scope="module")
def awx(stack):
    return Awx(stack, stack.root / "awx")


def drills(stack) -> list[dict]:
    text = stack.read(stack.state_dir / "drills.jsonl") or ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_each_job_template_runs_its_survey_answers_as_awx_launches_it(staging, awx):
    before = staging.containers()
    job = awx.launch("Rollback: backup", 310, {"incident": "awx-backup"})
    assert (job.status, job.rc) == ("successful", 0), job.output[-3000:]
    (backup,) = [json.loads(staging.read(p)) for p in staging.files(staging.state_dir / "backups", "*.json")]
    runs = (
        ("Rollback: restore", {"list": "yes"}, backup["id"]),
        ("Rollback: verify", {"version": "v1.2.3"}, "PASS"),
        ("Rollback: Procedure A (code)", {"version": "v1.2.4", "plan": "yes"}, "PLAN of Procedure A, nothing changed"),
        ("Rollback: Procedure B (code and database)", {"backup": backup["id"], "plan": "yes"},
         "PLAN of Procedure B, nothing changed"),
        ("Rollback: Procedure C (one service)", {"service": "chat-service", "version": "v1.2.4", "plan": "yes"},
         "PLAN of Procedure C, nothing changed"),
        ("Rollback: Procedure D (emergency shutdown)", {"incident": "awx-d", "plan": "yes"},
         "PLAN of Procedure D, nothing changed"),
        ("Rollback: notify", {"event": "started", "incident": "awx-notify", "message": "a drill of the templates"},
         "started"),
    )  # fmt: skip
    for job_id, (template, answers, said) in enumerate(runs, start=311):
        job = awx.launch(template, job_id, answers)
        assert (job.status, job.rc) == ("successful", 0), (template, job.output[-3000:])
        assert said in job.output, (template, job.output[-3000:])
    assert staging.containers() == before, "a template that only reads or plans changed the stack"
    assert [e["version"] for e in staging.history()] == ["v1.2.3"]


def test_a_drill_is_refused_where_the_inventory_does_not_allow_one_and_for_a_bad_release(staging, awx):
    before, history = staging.containers(), staging.history()
    job = awx.job("playbooks/drill.yml", 300, {"drill_release": "v1.2.4", **SCALE}, template="Rollback: drill",
                  meta=SCHEDULED)  # fmt: skip
    assert job.status == "failed"
    assert job.failed_tasks() == ["no drill on staging-test: its inventory does not allow drills "
                                  "(rollback_drill_allowed: true, for staging hosts only); nothing was changed"]
    staging.write_group_vars(rollback_drill_allowed=True)
    awx.inventory_changed()
    for release, said in (("1.2.4", "drill_release invalid version '1.2.4'"), ("v1.2.3", "v1.2.3 runs already")):
        run = staging.playbook("drill", drill_release=release, **SCALE)
        assert run.rc != 0 and said in run.output, run.output[-3000:]
    assert staging.containers() == before and staging.history() == history
    assert drills(staging) == []


def test_two_scheduled_drills_are_recorded_with_what_changed_between_them(staging, awx):
    tested = []
    for job_id in (301, 302):
        job = awx.job("playbooks/drill.yml", job_id, {"drill_release": "v1.2.4", **SCALE}, template="Rollback: drill",
                      meta=SCHEDULED)  # fmt: skip
        assert (job.status, job.rc) == ("successful", 0), job.output[-4000:]
        # The broken release was deployed, detected from the metrics, and rolled back with Procedure A.
        report = job.artifacts["runbook_report"]
        assert (report["procedure"], report["result"], report["to_version"]) == ("A", "ok", "v1.2.3"), report
        assert report["incident"].startswith("drill-")
        assert staging.get("/health")[1]["version"] == "v1.2.3"
        history = [(e["version"], e["action"], e["result"]) for e in staging.history()[-2:]]
        assert history == [("v1.2.4", "deploy", "failed"), ("v1.2.3", "rollback", "verified")]
        log = drills(staging)
        assert len(log) == len(tested) + 1
        entry = log[-1]
        assert (entry["result"], entry["procedure"], entry["from_version"], entry["to_version"]) == (
            "pass", "A", "v1.2.4", "v1.2.3")  # fmt: skip
        # The drill's time starts once the broken release runs: its deploy is not one of the drill's steps.
        labels = [s["label"] for s in entry["steps"]]
        assert labels and not any("deploy" in label for label in labels), labels
        assert entry["downtime"]["basis"] == "the drill's users, in runs of failed requests"
        assert entry["downtime"]["seconds"] >= 0 and entry["seconds"] > 0
        tested.append(entry["tested_at"])
    first, second = drills(staging)
    assert first["compared"] is None
    assert second["compared"]["previous_tested_at"] == first["tested_at"]
    assert second["compared"]["seconds_delta"] == round(second["seconds"] - first["seconds"], 1)
    assert {s["label"] for s in second["compared"]["steps"]} == {s["label"] for s in first["steps"]}
    record = staging.read(staging.state_dir / "drill-record.md")
    assert f"## Last Tested\n\n{second['tested_at']}: Procedure A, v1.2.4 to v1.2.3" in record
    assert f"- since the drill of {first['tested_at']} (pass): total" in record
    log_rows = record.split("## Drill log", 1)[1]
    assert log_rows.index(second["tested_at"]) < log_rows.index(first["tested_at"])
