"""The command line's words against an inventory's own defaults: playbooks/vars/command_line.yml is a vars_files
entry of every playbook, which Ansible ranks above the inventory, so an inventory's default for the assessment must
reach the roles through rollback_assess_* and still lose to -e."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"


def assessment(tmp_path: Path, inventory: str, *extra: str) -> dict:
    """(source, duration, interval, window_scale) as the assess role would get them, for the inventory's first host."""
    play = tmp_path / "show.yml"
    shown = ("{{ {'source': assess_source, 'duration': assess_duration | float, 'interval': assess_interval | float,"
             " 'window_scale': assess_window_scale | float} | to_json }}")
    play.write_text(json.dumps([{"hosts": "rollback_targets", "gather_facts": False,
                                 "vars_files": [str(REPO / "playbooks/vars/command_line.yml")],
                                 "tasks": [{"ansible.builtin.debug": {"msg": shown}}]}]))  # fmt: skip
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               RUNBOOK_TIMELINE_DIR=str(tmp_path / "timelines"))
    out = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(REPO / inventory), str(play), *extra], cwd=REPO,
                         env=env, capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    # The json callback's document, then the timeline callback's table.
    document, _end = json.JSONDecoder().raw_decode(out.stdout)
    result = document["plays"][0]["tasks"][0]["hosts"]
    return json.loads(next(iter(result.values()))["msg"])


@pytest.mark.parametrize("inventory, extra, expected", [
    ("inventory/local", (), {"source": "prometheus", "duration": 12, "interval": 1, "window_scale": 0.0167}),
    ("inventory/local", ("-e", "duration=30", "-e", "source=static"),
     {"source": "static", "duration": 30, "interval": 1, "window_scale": 0.0167}),
    ("inventory/production", (), {"source": "prometheus", "duration": 300, "interval": 15, "window_scale": 1.0}),
    ("inventory/production", ("-e", "source=app"),
     {"source": "app", "duration": 300, "interval": 15, "window_scale": 1.0}),
])  # fmt: skip
def test_an_inventorys_assessment_defaults_reach_the_roles_and_the_command_line_wins(tmp_path, inventory, extra,
                                                                                      expected):
    assert assessment(tmp_path, inventory, *extra) == expected
