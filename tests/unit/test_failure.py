"""The one failure message of the procedures' skeleton (plugin_utils/failure.py, roles/procedure/tasks/run.yml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.runbook.rollback.plugins.plugin_utils.failure import failure_message

ROOT = Path(__file__).resolve().parents[2]


def test_a_failure_before_any_change_says_so_once():
    run = {"title": "Procedure C", "reason": "chat-service is healthy; nothing was changed.", "changes_started": False}
    assert failure_message(run) == "Procedure C failed before anything was changed: chat-service is healthy"


def test_a_failure_after_the_stack_changed_says_what_runs_now():
    run = {"title": "deploy", "reason": "stage app not healthy", "changes_started": True,
           "stack_state": "chat-service v1.2.5 unhealthy, api-gateway v1.2.3 healthy"}  # fmt: skip
    assert failure_message(run) == (
        "deploy failed: stage app not healthy."
        " The stack now runs: chat-service v1.2.5 unhealthy, api-gateway v1.2.3 healthy"
    )


def test_the_procedures_own_verdict_is_said_as_it_is_unless_the_title_is_asked_for():
    run = {"title": "Procedure C", "reason": "billing rolled back to v1.2.3, but verification failed: smoke",
           "changes_started": True, "final": True, "stack_state": "billing v1.2.3"}  # fmt: skip
    assert failure_message(run).startswith("billing rolled back to v1.2.3, but verification failed: smoke. The stack")
    run.update(title="Procedure A", reason="tried v1.2.4 (verification failed: smoke)", prefix_final=True)
    assert failure_message(run).startswith("Procedure A failed: tried v1.2.4 (verification failed: smoke). The stack")


def test_the_procedures_detail_comes_before_the_history_and_the_state_in_sentences():
    run = {"title": "Procedure B", "reason": "restore failed: no space left on device", "changes_started": True,
           "detail": "The production database saas_db is untouched; the stopped services were started again.",
           "history_error": "[Errno 28] No space left on device",
           "stack_state": "chat-service v1.3.0 healthy"}  # fmt: skip
    assert failure_message(run) == (
        "Procedure B failed: restore failed: no space left on device. The production database saas_db is untouched;"
        " the stopped services were started again. The deployment history could not be written: [Errno 28] No space"
        " left on device. The stack now runs: chat-service v1.3.0 healthy"
    )


def test_for_the_team_the_title_and_the_state_are_left_to_their_own_fields():
    run = {"title": "Procedure B", "reason": "restore failed", "changes_started": True, "detail": "Kept as x.",
           "stack_state": "chat-service v1.3.0 healthy"}  # fmt: skip
    assert failure_message(run, "team") == "restore failed. Kept as x."


def test_the_runbooks_next_step_ends_the_message_once_the_stack_changed():
    run = {"title": "Procedure C", "reason": "billing rolled back to v1.2.3, but verification failed: smoke",
           "changes_started": True, "final": True, "stack_state": "billing v1.2.3",
           "next": "Procedure A, the whole stack back,\n or Procedure D"}  # fmt: skip
    assert failure_message(run) == (
        "billing rolled back to v1.2.3, but verification failed: smoke. The stack now runs: billing v1.2.3."
        " Next: Procedure A, the whole stack back, or Procedure D"
    )
    assert failure_message(run, "team").endswith("verification failed: smoke. Next: Procedure A, the whole stack "
                                                 "back, or Procedure D")  # fmt: skip
    # Before anything changed, the stack is as it was: nothing to fall back from.
    run.update(changes_started=False, final=False, reason="chat-service is healthy")
    assert failure_message(run) == "Procedure C failed before anything was changed: chat-service is healthy"


def test_the_message_is_one_line_whatever_the_reason_holds():
    run = {"title": "Procedure A", "reason": "line one\n  line two\r\n", "changes_started": True, "stack_state": "a\nb"}
    message = failure_message(run)
    assert "\n" not in message and "\r" not in message
    assert message == "Procedure A failed: line one line two. The stack now runs: a b"


def test_missing_parts_are_left_out_and_a_missing_reason_points_at_the_output():
    assert failure_message({}) == "the run failed before anything was changed: see the task output above"


def test_an_unknown_audience_is_refused():
    with pytest.raises(ValueError, match="audience"):
        failure_message({}, "pager")


@pytest.mark.parametrize("entry", ["a", "b", "c", "d", "deploy"])
def test_every_procedure_and_deploy_runs_through_the_one_skeleton(entry):
    """A failure-path change is made once: each entry imports run.yml, and none has a rescue of its own."""
    tasks = yaml.safe_load((ROOT / "roles" / "procedure" / "tasks" / f"{entry}.yml").read_text())
    skeleton = [t for t in tasks if t.get("ansible.builtin.import_tasks") == "run.yml"]
    assert len(skeleton) == 1, tasks
    assert (ROOT / "roles" / "procedure" / "tasks" / skeleton[0]["vars"]["procedure_steps"]).exists()


def test_the_failure_path_is_written_once():
    """The failed history entry, the failure's words and the lock's release are in run.yml and nowhere else."""
    files = [*(ROOT / "roles" / "procedure" / "tasks").glob("*.yml"), *(ROOT / "playbooks").glob("*.yml")]
    for marker in ("history_result: failed", "runbook.rollback.failure_message", "- name: Release the lock"):
        holders = sorted(p.name for p in files if marker in p.read_text())
        assert holders == ["run.yml"], (marker, holders)


def test_the_deploy_playbook_uses_the_skeleton():
    (play,) = yaml.safe_load((ROOT / "playbooks" / "deploy.yml").read_text())
    assert [t.get("ansible.builtin.import_role", {}).get("tasks_from") for t in play["tasks"]] == ["deploy"]


def test_flags_that_came_through_a_template_as_text_are_read_as_flags():
    run = {"title": "deploy", "reason": "r", "changes_started": "False", "final": "false", "stack_state": "x"}
    assert failure_message(run) == "deploy failed before anything was changed: r"
    run.update(changes_started="True", final="True")
    assert failure_message(run) == "r. The stack now runs: x"


@pytest.mark.parametrize(
    ("steps", "runbook_roles"),
    [
        ("a_steps.yml", ["preflight"]),
        ("b_steps.yml", ["restore", "preflight", "backup", "checkout", "staged_restart", "verify", "history"]),
        ("c_steps.yml", ["single_service", "verify", "history"]),
        ("deploy_steps.yml", ["preflight", "backup", "stop", "checkout", "staged_restart", "verify", "history"]),
    ],
)
def test_each_procedures_steps_hold_its_runbook_steps(steps, runbook_roles):
    """The steps moved whole into their own files: every runbook step a procedure imports is still there."""
    text = (ROOT / "roles" / "procedure" / "tasks" / steps).read_text()
    tasks = yaml.safe_load(text)

    def roles(items):
        for task in items:
            spec = task.get("ansible.builtin.import_role") or task.get("ansible.builtin.include_role") or {}
            role = spec.get("name")
            if role:
                yield role.rsplit(".", 1)[-1]
            yield from roles(task.get("block", []))

    found = list(roles(tasks))
    assert all(role in found for role in runbook_roles), (steps, found)
