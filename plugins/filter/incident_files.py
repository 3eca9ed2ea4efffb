# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident_files filter; documented in incident_files.yml."""

from __future__ import annotations

import datetime
import json
import socket

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.plugin_utils import report as incident_report
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_html import render_html


def incident_files(record, steps):
    if not isinstance(record, dict) or not isinstance(steps, dict):
        raise AnsibleFilterError("incident_files: expects the report record and the lookup runbook_steps' result")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    failed = record.get("result") == "failed" or any(s.get("status") == "failed" for s in steps.get("steps") or [])
    timeline = {
        "playbook": steps.get("playbook"), "version": steps.get("version"),
        "started_at": steps.get("started_at") or now, "ended_at": now, "duration": steps.get("seconds") or 0.0,
        "status": "failed" if failed else "ok", "steps": list(steps.get("steps") or []),
        "hosts": {record.get("target") or "target": {}},
    }  # fmt: skip
    # As the callback's timeline: each step with the runbook's name and estimate for it.
    budgets = incident_report.step_budgets(record.get("procedure"))
    timeline["procedure"] = record.get("procedure")
    named = [(step, budgets.get(step["name"], (None, None))) for step in timeline["steps"]]
    timeline["steps"] = [dict(step, runbook_step=label, budget=budget) for step, (label, budget) in named]
    report = incident_report.build_report(record, timeline, controller=socket.gethostname())
    return {
        "report.json": json.dumps(report, indent=2) + "\n",
        "report.md": incident_report.render_markdown(report),
        "postmortem.md": incident_report.render_postmortem(report),
        "report.html": render_html(report),
        "timeline.json": json.dumps(timeline, indent=2) + "\n",
    }


class FilterModule:
    def filters(self):
        return {"incident_files": incident_files}
