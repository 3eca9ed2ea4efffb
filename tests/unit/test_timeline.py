"""The timeline callback, for real: ansible-playbook on a tiny playbook with throwaway roles."""

from __future__ import annotations

import json
import subprocess

import pytest

from ansible_collections.runbook.rollback.tests.unit.support import REPO_ROOT, VENV_BIN, ansible_env

pytestmark = pytest.mark.functional

ROLES = {
    "preflight": """
- name: Ok task
  ansible.builtin.debug:
    msg: preflight
- name: Failure handled by rescue
  block:
    - name: Fails
      ansible.builtin.fail:
        msg: boom
  rescue:
    - name: Recovers
      ansible.builtin.debug:
        msg: recovered
- name: Ignored failure
  ansible.builtin.fail:
    msg: ignored
  ignore_errors: true
""",
    "cleanup": """
- name: Never runs
  ansible.builtin.debug:
    msg: never
  when: false
""",
    "verify": """
- name: Check
  ansible.builtin.debug:
    msg: verifying
- name: Verification fails when asked
  ansible.builtin.fail:
    msg: "verification failed"
  when: fail_verify | bool
""",
}

PLAYBOOK = """
- name: Tiny runbook
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    fail_verify: false
    db_password: hunter2-secret
  pre_tasks:
    - name: Outside any role
      ansible.builtin.debug:
        msg: pre
  roles:
    - preflight
    - cleanup
    - verify
"""


@pytest.fixture
def project(tmp_path):
    for role, tasks in ROLES.items():
        d = tmp_path / "roles" / role / "tasks"
        d.mkdir(parents=True)
        (d / "main.yml").write_text(tasks)
    (tmp_path / "rollback.yml").write_text(PLAYBOOK)
    return tmp_path


def run_playbook(project, *extra, **env):
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "rollback.yml"] + list(extra)
    full = ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
                       ANSIBLE_CALLBACKS_ENABLED="runbook.rollback.timeline")
    # Only the test's own settings: an ANSIBLE_CONFIG or RUNBOOK_TIMELINE_DIR from the caller would leak in.
    for key in ("ANSIBLE_CONFIG", "RUNBOOK_TIMELINE_DIR"):
        full.pop(key, None)
    full.update(env)
    env = full
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=180, check=False)


def test_successful_run(project):
    proc = run_playbook(project, "-e", "version=v1.2.3", RUNBOOK_TIMELINE_DIR="out/timelines")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The default stdout callback still runs.
    assert "PLAY RECAP" in proc.stdout
    assert "RUNBOOK TIMELINE (rollback.yml) version v1.2.3" in proc.stdout
    table = proc.stdout.split("RUNBOOK TIMELINE", 1)[1].splitlines()
    assert [ln.split()[0] for ln in table[1:5]] == ["preflight", "cleanup", "verify", "total"]

    out = project / "out" / "timelines"
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 2 and "latest.json" in files
    stamped = next(f for f in files if f != "latest.json")
    assert stamped.endswith("Z-rollback.json")
    data = json.loads((out / "latest.json").read_text())
    assert data == json.loads((out / stamped).read_text())

    assert data["playbook"] == "rollback.yml"
    assert data["version"] == "v1.2.3"
    assert data["status"] == "ok"
    steps = {s["name"]: s for s in data["steps"]}
    assert [s["name"] for s in data["steps"]] == ["preflight", "cleanup", "verify"]
    # Rescued and ignored failures do not fail the step.
    assert steps["preflight"]["status"] == "ok" and steps["preflight"]["tasks"] == 4
    assert steps["cleanup"]["status"] == "skipped" and steps["cleanup"]["tasks"] == 1
    assert steps["verify"]["status"] == "ok" and steps["verify"]["tasks"] == 2
    for s in data["steps"]:
        assert s["started_at"] <= s["ended_at"] and s["duration"] >= 0
    assert data["duration"] >= sum(s["duration"] for s in data["steps"]) - 0.01
    assert "hunter2-secret" not in json.dumps(data)


def test_failed_run(project):
    proc = run_playbook(project, "-e", "fail_verify=true", RUNBOOK_TIMELINE_DIR=str(project / "abs"))
    assert proc.returncode == 2
    data = json.loads((project / "abs" / "latest.json").read_text())
    assert data["status"] == "failed"
    assert data["version"] is None
    assert {s["name"]: s["status"] for s in data["steps"]} == {"preflight": "ok", "cleanup": "skipped",
                                                               "verify": "failed"}
    assert data["hosts"]["localhost"]["failures"] == 1
    assert "verify" in proc.stdout.split("RUNBOOK TIMELINE", 1)[1]


def test_a_play_that_says_so_starts_the_timeline_anew(project):
    # The drill's shape (playbooks/drill.yml): a first play that sets the scene, then the one whose time counts.
    (project / "rollback.yml").write_text(PLAYBOOK + """
- name: From here on the clock runs
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    rollback_timeline_restart: true
    fail_verify: false
  roles:
    - verify
""")
    proc = run_playbook(project, RUNBOOK_TIMELINE_DIR=str(project / "abs"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((project / "abs" / "latest.json").read_text())
    # Only the second play's step: the first play's preflight and cleanup are gone, and verify counts once.
    assert [(s["name"], s["tasks"]) for s in data["steps"]] == [("verify", 2)]
    assert data["duration"] >= data["steps"][0]["duration"]


def test_no_dir_only_prints(project):
    proc = run_playbook(project)
    assert proc.returncode == 0
    assert "RUNBOOK TIMELINE (rollback.yml)" in proc.stdout
    assert not (project / "out").exists() and sorted(p.name for p in project.iterdir()) == ["roles", "rollback.yml"]


def test_ini_dir_relative_to_cwd(project):
    (project / "ansible.cfg").write_text("[runbook_timeline]\ndir = ./tl\n")
    proc = run_playbook(project, ANSIBLE_CONFIG=str(project / "ansible.cfg"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (project / "tl" / "latest.json").is_file()


def test_a_role_entered_through_tasks_files_is_one_step_per_entry_point(project):
    tasks = project / "roles" / "restore" / "tasks"
    tasks.mkdir(parents=True)
    for entry in ("side", "swap"):
        (tasks / f"{entry}.yml").write_text(f"- name: {entry}\n  ansible.builtin.debug:\n    msg: {entry}\n")
    (project / "rollback.yml").write_text("""
- name: Restore in two steps with a step between
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    fail_verify: false
  tasks:
    - {name: Side, ansible.builtin.import_role: {name: restore, tasks_from: side}}
    - {name: Verify, ansible.builtin.import_role: {name: verify}}
    - {name: Swap, ansible.builtin.import_role: {name: restore, tasks_from: swap.yml}}
""")
    proc = run_playbook(project, RUNBOOK_TIMELINE_DIR="out")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((project / "out" / "latest.json").read_text())
    assert [s["name"] for s in data["steps"]] == ["restore_side", "verify", "restore_swap"]


REPORT_ROLES = {
    "stop": "- name: Stop\n  ansible.builtin.debug:\n    msg: stopping\n",
    "checkout": "- name: Check out\n  ansible.builtin.debug:\n    msg: checkout\n",
    "staged_restart": "- name: Restart\n  ansible.builtin.debug:\n    msg: restart\n",
}

REPORT_PLAYBOOK = """
- name: A procedure that publishes its record, failed or not
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    fail_verify: false
    webhook_secret: https://hooks.example.test/T000/B000/hunter2-webhook
  tasks:
    - name: The procedure
      block:
        - name: Steps
          ansible.builtin.include_role:
            name: "{{ item }}"
          loop: [stop, checkout, staged_restart, verify]
      rescue:
        - name: Keep the reason
          ansible.builtin.set_fact:
            failure: "{{ ansible_failed_result.msg }}"
        - name: Fail
          ansible.builtin.fail:
            msg: "{{ failure }}"
      always:
        - name: Publish the record
          ansible.builtin.set_stats:
            per_host: true
            aggregate: false
            data:
              runbook_report:
                incident: "{{ incident }}"
                procedure: A
                result: "{{ 'failed' if failure is defined else 'ok' }}"
                reason: "{{ failure | default('') }}"
                from_version: v1.2.4
                to_version: v1.2.3
                run_id: run-1
                by: alice
                target: "{{ inventory_hostname }}"
                report_dir: "{{ playbook_dir }}/incidents/{{ incident }}"
                notifications:
                  - {channel: slack, event: started, ok: true, status: 200, error: ""}
                  - {channel: statuspage, event: completed, ok: false, status: 500, error: "HTTP 500"}
                verification: "{{ none if failure is defined else verification }}"
          vars:
            verification:
              passed: true
              problems: []
              checks: [{name: health, ok: true, detail: 7/7 healthy}, {name: smoke, ok: true, detail: 5/5}]
"""


@pytest.fixture
def report_project(project):
    for role, tasks in REPORT_ROLES.items():
        d = project / "roles" / role / "tasks"
        d.mkdir(parents=True)
        (d / "main.yml").write_text(tasks)
    (project / "rollback.yml").write_text(REPORT_PLAYBOOK)
    return project


def test_a_published_record_gives_the_budget_summary_and_the_incident_report(report_project):
    proc = run_playbook(report_project, "-e", "fail_verify=false", "-e", "incident=INC-7")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.split("RUNBOOK STEPS AGAINST BUDGET (Procedure A: Code rollback)", 1)[1]
    labels = [line.split("  ")[1].strip() for line in summary.splitlines()[2:7]]
    assert labels[:4] == ["Step 2: stop services", "Step 3: check out the release",
                          "Step 4: rebuild and restart in stages", "Step 5: verify"]
    assert "30 s" in summary and "3-5 min" in summary and "5-10 min" in summary

    timeline = json.loads((report_project / "incidents" / "INC-7" / "timeline.json").read_text())
    assert timeline["procedure"] == "A"
    assert [(s["runbook_step"], s["budget"]) for s in timeline["steps"]][:1] == [
        ("Step 2: stop services", {"low": 30, "high": 30})]
    incident = report_project / "incidents" / "INC-7"
    assert sorted(p.name for p in incident.iterdir()) == [
        "postmortem.md", "report.html", "report.json", "report.md", "timeline.json"]
    report = json.loads((incident / "report.json").read_text())
    assert report["incident"] == "INC-7" and report["status"] == "ok"
    assert [s["name"] for s in report["steps"]] == ["stop", "checkout", "staged_restart", "verify"]
    assert all(s["hosts"] == ["localhost"] for s in report["steps"])
    assert report["steps"][0]["budget"] == {"low": 30, "high": 30}
    assert report["downtime"]["ongoing"] is False and report["downtime"]["seconds"] >= 0
    items = {i["item"]: i for c in report["checklists"] for i in c["items"]}
    assert items["Team notified"]["state"] == "done"
    assert items["Status page updated to resolved"]["state"] == "failed"
    assert items["Post-mortem scheduled"]["state"] == "open" and items["Post-mortem scheduled"]["by"] == "human"
    text = (incident / "report.md").read_text()
    assert "v1.2.4 → v1.2.3" in text and "| stop |" in text and "[ ] Post-mortem scheduled" in text
    assert "# Incident Post-Mortem:" in (incident / "postmortem.md").read_text()
    for path in incident.iterdir():
        assert "hunter2" not in path.read_text(), path


def test_a_failed_procedure_reports_failed_with_the_interruption_still_running(report_project):
    proc = run_playbook(report_project, "-e", "fail_verify=true", "-e", "incident=INC-8")
    assert proc.returncode == 2
    summary = proc.stdout.split("RUNBOOK STEPS AGAINST BUDGET", 1)[1]
    assert "Step 5: verify" in summary and "failed" in summary and "run failed" in summary
    report = json.loads((report_project / "incidents" / "INC-8" / "report.json").read_text())
    assert report["status"] == "failed" and report["reason"] == "verification failed"
    assert report["downtime"]["ongoing"] is True and report["downtime"]["to"] is None
    # The procedure's rescue made the failure its own; the report still names the step that failed.
    assert {s["name"]: s["status"] for s in report["steps"]}["verify"] == "failed"
    items = {i["item"]: i for c in report["checklists"] for i in c["items"]}
    assert items["Services stopped"]["state"] == "done"
    assert items["Health checks passing"]["state"] == "open"
    assert items["Rollback version identified"]["state"] == "open"  # no preflight in this play
    assert any("The run failed: verification failed" in f for f in report["follow_ups"])


def test_an_unsafe_incident_id_never_leaves_the_report_directory(report_project):
    proc = run_playbook(report_project, "-e", "incident=../../escape", RUNBOOK_REPORT_DIR=str(report_project / "rep"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in (report_project / "rep").iterdir()) == ["run-run-1"]
    assert not (report_project.parent / "escape").exists()


def test_the_collections_playbooks_load_the_timeline_without_ansible_cfg(tmp_path):
    (tmp_path / "empty.cfg").write_text("[defaults]\n")
    # No host matches: a warning, as a user has it (ansible-test units makes it an error).
    env = ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_CONFIG=str(tmp_path / "empty.cfg"),
                      ANSIBLE_HOST_PATTERN_MISMATCH="warning")
    for key in ("ANSIBLE_CALLBACKS_ENABLED", "RUNBOOK_TIMELINE_DIR", "RUNBOOK_REPORT_DIR"):
        env.pop(key, None)
    playbook = REPO_ROOT / "playbooks" / "notify.yml"
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "nohost,", str(playbook)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.stdout.count("RUNBOOK TIMELINE (notify.yml)") == 1, proc.stdout + proc.stderr
    # Enabled in the configuration as well: still one table, not two.
    (tmp_path / "enabled.cfg").write_text("[defaults]\ncallbacks_enabled = runbook.rollback.timeline\n")
    env["ANSIBLE_CONFIG"] = str(tmp_path / "enabled.cfg")
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "nohost,", str(playbook)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=180, check=False)
    assert proc.stdout.count("RUNBOOK TIMELINE (notify.yml)") == 1, proc.stdout + proc.stderr
