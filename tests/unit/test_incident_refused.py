"""Every playbook that takes an incident id refuses an unsafe one (a path, a newline, a slash) in one line,
before it takes the lock, touches the stack or writes anything: the id names a directory of the state."""

from __future__ import annotations

import pytest

from ansible_collections.runbook.rollback.tests.unit.support import run_refused

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
    proc = run_refused(tmp_path, playbook, {**extra, "incident": hostile})
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "must be letters, digits, dot, dash or underscore" in proc.stdout, proc.stdout[-3000:]
    # Nothing written: no state directory (so no lock, no report, no incident directory) was made.
    assert not state.exists() or not any(state.rglob("*")), sorted(state.rglob("*"))
    assert not (tmp_path / "tmp").exists()
