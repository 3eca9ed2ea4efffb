"""Every step the report budgets is named on purpose: a tasks file says which runbook step it is (the step
marker, a block with ``vars: {rollback_step: <name>}``), the timeline reads it, and a playbook or role
enters that file. Renaming a file, or losing its marker, must fail here instead of dropping the step from
the budget table in silence."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.runbook.rollback.plugins.callback import timeline
from ansible_collections.runbook.rollback.plugins.plugin_utils import report as rpt

REPO = Path(__file__).resolve().parents[2]
ROLE_KEYS = {"import_role", "include_role", "ansible.builtin.import_role", "ansible.builtin.include_role"}


def _walk(node, visit):
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            _walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            _walk(value, visit)


def entered_files() -> set[Path]:
    """Each role tasks file a playbook or role enters (import_role/include_role)."""
    found: set[Path] = set()

    def visit(node):
        for key in ROLE_KEYS & node.keys():
            spec = node[key]
            role = spec["name"].rsplit(".", 1)[-1]
            entry = (spec.get("tasks_from") or "main").removesuffix(".yml")
            found.add(REPO / "roles" / role / "tasks" / f"{entry}.yml")

    for path in [*REPO.glob("playbooks/*.yml"), *REPO.glob("roles/*/tasks/*.yml")]:
        _walk(yaml.safe_load(path.read_text()), visit)
    return found


def markers() -> dict[str, list[Path]]:
    """Each step marker and the tasks files that declare it."""
    found: dict[str, list[Path]] = {}
    for path in sorted(REPO.glob("roles/*/tasks/*.yml")):

        def visit(node, path=path):
            marker = (node.get("vars") or {}).get(timeline.STEP_VAR) if isinstance(node.get("vars"), dict) else None
            if marker and path not in found.get(marker, []):
                found.setdefault(marker, []).append(path)

        _walk(yaml.safe_load(path.read_text()), visit)
    return found


def budgeted() -> list[tuple[str, str]]:
    names = []
    for letter, procedure in rpt.PROCEDURES.items():
        for title, steps, _estimate in procedure["steps"]:
            names += [(f"{letter}: {title}", name) for name in steps]
    for letter, (starts, ends) in rpt.INTERRUPTION.items():
        names += [(f"{letter}: interruption", name) for name in (*starts, *ends)]
    return names


ENTERED = entered_files()
MARKERS = markers()
# Files entered from inside another step's block, timed as part of it (they have no step of their own).
HELPERS = {REPO / "roles" / "backup" / "tasks" / "database_name.yml"}


@pytest.mark.parametrize("where, name", budgeted(), ids=lambda v: v if isinstance(v, str) else None)
def test_each_budgeted_step_is_marked_once_in_a_file_that_is_entered(where, name):
    assert name in MARKERS, f"{where}: no tasks file says it is the step {name!r} (rollback_step)"
    assert len(MARKERS[name]) == 1, f"{where}: {name!r} is marked in {MARKERS[name]}"
    assert MARKERS[name][0] in ENTERED, f"{where}: nothing enters {MARKERS[name][0]}, the step {name!r}"


def test_every_entered_step_file_says_which_step_it_is():
    unmarked = {p for p in ENTERED if p.is_file()} - {p for paths in MARKERS.values() for p in paths} - HELPERS
    assert not unmarked, "entered without a step marker: %s" % sorted(str(p.relative_to(REPO)) for p in unmarked)


# --- The timeline's reading of the marker ------------------------------------------------------------------
class _Node:
    def __init__(self, role, parent=None, marker=None, action="ansible.builtin.command"):
        self._role, self._parent, self.action = role, parent, action
        self.vars = {timeline.STEP_VAR: marker} if marker else {}


class _Role:
    def __init__(self, name, tasks_from=None):
        self.name, self._from_files = name, ({"tasks": tasks_from} if tasks_from else {})

    def get_name(self, include_role_fqcn=True):
        return self.name if include_role_fqcn else self.name.rsplit(".", 1)[-1]


def test_the_outermost_marker_of_the_tasks_own_role_names_its_step():
    procedure, preflight = _Role("runbook.rollback.procedure", "a"), _Role("runbook.rollback.preflight", "main")
    outer = _Node(procedure, marker="procedure_a")
    entered = _Node(preflight, parent=_Node(procedure, parent=outer), marker="preflight")
    included = _Node(preflight, parent=_Node(preflight, parent=entered), marker="preflight_lock")
    assert timeline.step_name(_Node(preflight, parent=included)) == "preflight"
    assert timeline.step_name(_Node(procedure, parent=outer)) == "procedure_a"


def test_without_a_marker_the_role_and_its_entry_point_name_the_step():
    assert timeline.step_name(_Node(_Role("runbook.rollback.restore", "swap.yml"))) == "restore_swap"
    assert timeline.step_name(_Node(_Role("runbook.rollback.restore", "main"))) == "restore"
    assert timeline.step_name(_Node(None)) is None
    implicit = _Node(_Role("runbook.rollback.stop"), marker="stop", action="ansible.builtin.validate_argument_spec")
    assert timeline.step_name(implicit) is None


def test_a_renamed_marker_would_be_caught():
    assert "preflight_images" in MARKERS and "restore_swap" in MARKERS
    assert "preflight_pictures" not in MARKERS


def test_a_helper_is_entered_only_from_inside_a_step():
    for helper in HELPERS:
        assert helper.is_file() and helper not in {p for paths in MARKERS.values() for p in paths}, helper
        name = helper.stem
        users = [p for p in REPO.glob("roles/*/tasks/*.yml") if f"tasks_from: {name}" in p.read_text()
                 or f"include_tasks: {name}.yml" in p.read_text()]  # fmt: skip
        assert users and all(p in {q for paths in MARKERS.values() for q in paths} for p in users), (helper, users)
