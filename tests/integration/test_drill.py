"""awx/controller.yml's job templates launched as AWX launches them (tests/integration/awxjob.py), on a staging stack
of its own: each template that only reads or plans, with its survey's answers; then the quarterly drill
(playbooks/drill.yml) as the "Rollback: drill" template runs on its schedule: refused where the inventory does not
allow drills, then run twice. Each drill deploys the broken release, detects it from the metrics under the drill's
users, rolls back and verifies, and the drill log on the host shows both drills and what changed between them.
(assess and auto, the workflow's chain, are test_assess's.)

The tests share one stack and run in file order."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from awxjob import Awx
from stack import REPO

# The staging inventory's drill scale (the runbook's minutes as seconds), as inventory/local has it: the scheduled
# job passes only its survey's answer.
SCALE = {"rollback_assess_duration": 12, "rollback_assess_interval": 1, "rollback_assess_window_scale": 0.0167}
SCHEDULED = {"awx_job_launch_type": "scheduled", "awx_schedule_name": "Quarterly rollback drill", "awx_schedule_id": 7}


@pytest.fixture(scope="module")
def staging(stack):
    stack.seed("v1.2.3")
    stack.write_group_vars(**SCALE)
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
    job = awx.launch("Rollback: drill", 300, {"drill_release": "v1.2.4"}, meta=SCHEDULED)
    assert job.status == "failed"
    assert job.failed_tasks() == ["no drill on staging-test: its inventory does not allow drills (a staging "
                                  "inventory allows them with rollback_drill_allowed: true); nothing was changed"]
    # The staging app's users on this machine, as inventory/local has them, until the drill stops them.
    users = [sys.executable, str(REPO / "demo" / "traffic.py"), f"--url=http://127.0.0.1:{staging.port}",
             "--duration=1800", "--rate=30", "--workers=4"]  # fmt: skip
    staging.write_group_vars(rollback_drill_allowed=True, rollback_drill_traffic_command=users)
    awx.inventory_changed()
    for release, said in (("1.2.4", "drill_release invalid version '1.2.4'"), ("v1.2.3", "v1.2.3 runs already")):
        run = staging.playbook("drill", drill_release=release)
        assert run.rc != 0 and said in run.output, run.output[-3000:]
    assert staging.containers() == before and staging.history() == history
    assert drills(staging) == []


def test_two_scheduled_drills_are_recorded_with_what_changed_between_them(staging, awx):
    tested = []
    for job_id in (301, 302):
        timelines = set(staging.timelines.glob("*-drill.json"))
        job = awx.launch("Rollback: drill", job_id, {"drill_release": "v1.2.4"}, meta=SCHEDULED)
        assert (job.status, job.rc) == ("successful", 0), job.output[-4000:]
        # The users were stopped when the drill ended: none of the drill's traffic runs on.
        left = subprocess.run(["pgrep", "-f", f"traffic.py --url=http://127.0.0.1:{staging.port}"], check=False,
                              capture_output=True, text=True)  # fmt: skip
        assert left.returncode == 1, left.stdout
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
        # The drill's time starts once the broken release runs: the timeline the job wrote has none of the deploy's
        # steps (nor the drill's check before it); the users start before the assessment.
        (timeline,) = set(staging.timelines.glob("*-drill.json")) - timelines
        steps = [step["name"] for step in json.loads(timeline.read_text())["steps"]]
        assert "procedure_deploy" not in steps and "drill_start" not in steps, steps
        assert steps.index("drill_users") < steps.index("assess") < steps.index("procedure_a"), steps
        labels = [row["label"] for row in entry["steps"]]
        assert labels[:2] == ["Assess the situation", "Step 1: identify the last known good release"], labels
        # What the users saw, from their own summary: the broken release's failed requests and the rollback's gap.
        assert entry["downtime"]["basis"] == "the drill's users, in runs of failed requests"
        assert 0 < entry["downtime"]["seconds"] < entry["seconds"], entry
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
