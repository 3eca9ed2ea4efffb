"""The incident report a procedure leaves, read as the team reads it after the run."""

from __future__ import annotations

import json
from pathlib import Path

FILES = ("report.json", "report.md", "report.html", "postmortem.md", "timeline.json")


def assert_report(state_dir: Path, incident: str, procedure: str, runbook_steps: tuple[str, ...]) -> dict:
    """The report of a run that succeeded: its incident and procedure, each of ``runbook_steps`` (the
    runbook's step numbers, "Step 2" or "Steps 3-4") timed against its budget, every timeline step with
    its start and end, in the Markdown table and in the HTML picture. Returns report.json."""
    directory = Path(state_dir) / "incidents" / incident
    for name in FILES:
        assert (directory / name).stat().st_size > 0, f"{name} is empty"
    report = json.loads((directory / "report.json").read_text())
    assert (report["incident"], report["procedure"], report["status"]) == (incident, procedure, "ok"), report["reason"]

    rows = {row["label"].split(":")[0]: row for row in report["runbook_steps"]}
    for step in runbook_steps:
        assert step in rows, f"{step} is not in the budget table: {sorted(rows)}"
        row = rows[step]
        assert row["duration"] > 0 and 0 < row["budget"]["low"] <= row["budget"]["high"], row
        assert row["verdict"] in ("within", "over"), row

    markdown = (directory / "report.md").read_text()
    html = (directory / "report.html").read_text()
    for step in report["steps"]:
        assert step["started_at"] and step["ended_at"] and step["duration"] is not None, step
        assert f"| {step['name']} |" in markdown, f"{step['name']} is not in report.md"
        assert f'data-step="{step["name"]}"' in html, f"{step['name']} is not in the HTML timeline"
    assert report["budget"]["high"] > 0 and report["duration"] > 0
    return report
