"""The incident report written before the playbook ends (under AWX, on the target): the same files as the
callback's, from the record and the steps so far."""

from __future__ import annotations

import json

from ansible_collections.runbook.rollback.plugins.filter.incident_files import incident_files
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_budget import iso

RECORD = {"incident": "INC-7", "procedure": "A", "result": "ok", "reason": "", "from_version": "v1.2.4",
          "to_version": "v1.2.3", "run_id": "77", "by": "alice", "target": "web-1", "awx_job_id": 77,
          "verification": {"passed": True, "problems": [], "checks": []}, "backups": [], "notifications": [],
          "samples": [], "kept_databases": []}  # fmt: skip


def test_the_report_is_made_from_the_steps_so_far():
    at = 1_780_000_000.0
    took = (("preflight", 4.0), ("stop", 2.0), ("checkout", 1.0), ("staged_restart", 6.0), ("verify", 5.0))
    steps = [{"name": name, "started_at": iso(at + i * 10), "ended_at": iso(at + i * 10 + seconds),
              "duration": seconds, "status": "ok", "tasks": 3, "rescued": 0, "hosts": ["web-1"]}
             for i, (name, seconds) in enumerate(took)]  # fmt: skip
    so_far = {"steps": steps, "seconds": 50.0, "started_at": iso(at), "playbook": "procedure_a.yml",
              "version": "v1.2.3"}
    files = incident_files(RECORD, so_far)
    assert sorted(files) == ["postmortem.md", "report.html", "report.json", "report.md", "timeline.json"]
    report = json.loads(files["report.json"])
    assert (report["incident"], report["procedure"], report["status"]) == ("INC-7", "A", "ok")
    assert [s["name"] for s in report["steps"]][:2] == ["preflight", "stop"]
    assert "INC-7" in files["report.md"] and "v1.2.3" in files["report.md"] and "<html" in files["report.html"]
    assert json.loads(files["timeline.json"])["playbook"] == "procedure_a.yml"
