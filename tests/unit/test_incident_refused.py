"""Every playbook that takes an incident id refuses an unsafe one (a path, a newline, a slash) in one line,
before it takes the lock, touches the stack or writes anything: the id names a directory of the state."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from conftest import REPO_ROOT, VENV_BIN, ansible_env

HOSTILE = ["../../../tmp/x", "INC-1\n", "INC/1"]
PLAYBOOKS = [
    ("procedure_a", {"version": "v1.2.3"}),
    ("procedure_b", {}),
    ("procedure_c", {"service": "billing-service"}),
    ("procedure_d", {}),
    ("restore", {"backup": "20261128T150000Z-manual"}),
    ("deploy", {"version": "v1.2.3"}),
    ("assess", {"source": "static"}),
    ("auto", {"source": "static"}),
    ("notify", {"event": "started"}),
]


@pytest.mark.functional
@pytest.mark.parametrize(("playbook", "extra"), PLAYBOOKS, ids=[p for p, _unused in PLAYBOOKS])
def test_a_hostile_incident_id_is_refused_before_anything(tmp_path, playbook, extra):
    hostile = HOSTILE[PLAYBOOKS.index((playbook, extra)) % len(HOSTILE)]
    state = tmp_path / "state"
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"rollback_targets": {"hosts": {"target": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "rollback_app_dir": str(tmp_path / "app"),
        "rollback_state_dir": str(state), "rollback_project_name": "refused"}}}}))  # fmt: skip
    values = tmp_path / "extra.yml"
    values.write_text(yaml.safe_dump({**extra, "incident": hostile}))
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(tmp_path / "inventory"), f"playbooks/{playbook}.yml",
         "-e", "@" + str(values)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default"), check=False,
    )  # fmt: skip
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "must be letters, digits, dot, dash or underscore" in proc.stdout, proc.stdout[-3000:]
    # Nothing written: no state directory (so no lock, no report, no incident directory) was made.
    assert not state.exists() or not any(state.rglob("*")), sorted(state.rglob("*"))
    assert not (tmp_path / "tmp").exists()
