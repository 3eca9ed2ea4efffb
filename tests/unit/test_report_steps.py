"""Every timeline step the report budgets is one the playbooks run: renaming a role's tasks file (its
entry point names the step) must fail here, not drop the step from the budget table in silence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.runbook.rollback.plugins.callback import timeline
from ansible_collections.runbook.rollback.plugins.module_utils import report as rpt

REPO = Path(__file__).resolve().parents[2]
ROLE_KEYS = {"import_role", "include_role", "ansible.builtin.import_role", "ansible.builtin.include_role"}


def step_name(role: str, tasks_from: str | None) -> str:
    """The timeline's name for a role entered through tasks_from (plugins/callback/timeline.py)."""
    role = role.rsplit(".", 1)[-1]
    entry = (tasks_from or "main").rsplit("/", 1)[-1].removesuffix(".yml").removesuffix(".yaml")
    return role if entry == "main" else f"{role}_{entry}"


def entered_steps() -> dict[str, Path]:
    """Each step a playbook or role enters (import_role/include_role), with the tasks file it runs."""
    found: dict[str, Path] = {}

    def walk(node):
        if isinstance(node, dict):
            for key in ROLE_KEYS & node.keys():
                spec = node[key]
                name, tasks_from = spec["name"], spec.get("tasks_from")
                role = name.rsplit(".", 1)[-1]
                entry = (tasks_from or "main").removesuffix(".yml")
                found[step_name(name, tasks_from)] = REPO / "roles" / role / "tasks" / f"{entry}.yml"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in [*REPO.glob("playbooks/*.yml"), *REPO.glob("roles/*/tasks/*.yml")]:
        walk(yaml.safe_load(path.read_text()))
    return found


def budgeted() -> list[tuple[str, str]]:
    names = []
    for letter, procedure in rpt.PROCEDURES.items():
        for title, steps, _estimate in procedure["steps"]:
            names += [(f"{letter}: {title}", name) for name in steps]
    for letter, (starts, ends) in rpt.INTERRUPTION.items():
        names += [(f"{letter}: interruption", name) for name in (*starts, *ends)]
    return names


ENTERED = entered_steps()


@pytest.mark.parametrize("where, name", budgeted(), ids=lambda v: v if isinstance(v, str) else None)
def test_each_budgeted_step_is_entered_by_a_playbook_and_its_tasks_file_exists(where, name):
    assert name in ENTERED, f"{where}: no playbook or role enters the step {name!r}"
    assert ENTERED[name].is_file(), f"{where}: {name!r} runs {ENTERED[name]}, which does not exist"


class _Role:
    def __init__(self, name, tasks_from):
        self.name, self._from_files = name, ({"tasks": tasks_from} if tasks_from else {})

    def get_name(self, include_role_fqcn=True):
        return self.name if include_role_fqcn else self.name.rsplit(".", 1)[-1]


class _Task:
    action = "ansible.builtin.command"

    def __init__(self, role):
        self._role = role


@pytest.mark.parametrize("role, tasks_from", [
    ("runbook.rollback.preflight", None), ("runbook.rollback.preflight", "lock.yml"),
    ("runbook.rollback.procedure", "d"), ("runbook.rollback.restore", "main"),
])  # fmt: skip
def test_the_names_agree_with_the_timelines_own_rule(role, tasks_from):
    assert step_name(role, tasks_from) == timeline.role_name(_Task(_Role(role, tasks_from)))


def test_a_renamed_tasks_file_would_be_caught():
    assert "preflight_images" in ENTERED and "restore_swap" in ENTERED
    assert "preflight_pictures" not in ENTERED
