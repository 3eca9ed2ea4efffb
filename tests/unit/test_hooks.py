"""rollback_hooks: a site's task files around the runbook steps, checked before anything happens."""

from __future__ import annotations

import pytest

from ansible_collections.runbook.rollback.plugins.plugin_utils.hooks import POINTS, hook_errors, hook_files
from ansible_collections.runbook.rollback.tests.unit.support import run_refused


@pytest.fixture
def task_file(tmp_path):
    path = tmp_path / "drain.yml"
    path.write_text("- ansible.builtin.debug: {msg: drained}\n")
    return str(path)


def test_hooks_that_can_run_have_no_error(task_file):
    assert hook_errors({}) == [] and hook_errors(None) == []
    assert hook_errors({"before_stop": task_file, "after_verify": [task_file, task_file]}) == []


def test_every_step_has_a_before_and_an_after_point():
    assert "before_stop" in POINTS and "after_single_service_replace" in POINTS
    assert len(POINTS) == 14


@pytest.mark.parametrize("hooks, error", [
    ({"before_stpo": "/x.yml"}, "'before_stpo' is not a hook point; they are before_backup, after_backup"),
    ({"before_stop": "hooks/drain.yml"}, "before_stop: 'hooks/drain.yml' must be an absolute path"),
    ({"after_verify": "/nowhere/check.yml"}, "after_verify: no task file at /nowhere/check.yml"),
    ({"after_verify": {"file": "/x.yml"}}, "after_verify: expected a task file's path or a list of them"),
    (["before_stop"], "must be a mapping of hook points"),
])  # fmt: skip
def test_hooks_that_cannot_run_are_named(hooks, error):
    errors = hook_errors(hooks)
    assert len(errors) == 1 and errors[0].startswith(error), errors


def test_the_files_of_a_point_are_a_list(task_file):
    assert hook_files(task_file) == [task_file]
    assert hook_files([task_file, task_file]) == [task_file, task_file]
    assert hook_files(3) is None


@pytest.mark.functional
@pytest.mark.parametrize("playbook", ["procedure_a", "deploy"])
def test_a_hook_that_cannot_run_is_refused_before_anything(tmp_path, playbook):
    missing = tmp_path / "missing.yml"
    state = tmp_path / "state"
    proc = run_refused(tmp_path, playbook, {"version": "v1.2.3"}, rollback_hooks={"before_stop": str(missing)})
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert f"rollback_hooks: before_stop: no task file at {missing}" in proc.stdout, proc.stdout[-3000:]
    # Nothing written: no state directory (so no lock, no report) was made.
    assert not state.exists() or not any(state.rglob("*")), sorted(state.rglob("*"))
