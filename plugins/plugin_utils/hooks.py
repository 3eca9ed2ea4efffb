# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A site's own task files before and after the runbook's steps (rollback_hooks): controller-side."""

from __future__ import annotations

import os

# The runbook steps a hook can attach to, by the step's name in the timeline and the report.
STEPS = ("backup", "stop", "checkout", "staged_restart", "verify", "restore_swap", "single_service_replace")
POINTS = tuple(f"{when}_{step}" for step in STEPS for when in ("before", "after"))


def hook_files(value):
    """The files of one hook point: one path or a list of paths."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def hook_errors(hooks):
    """What is wrong with rollback_hooks, one phrase per problem; [] when the hooks can run."""
    if hooks is None or hooks == {}:
        return []
    if not isinstance(hooks, dict):
        return ["must be a mapping of hook points (before_stop, after_verify, ...) to task files"]
    errors = []
    for point in sorted(hooks, key=str):
        if point not in POINTS:
            errors.append(f"{point!r} is not a hook point; they are {', '.join(POINTS)}")
            continue
        files = hook_files(hooks[point])
        if files is None:
            errors.append(f"{point}: expected a task file's path or a list of them")
            continue
        for path in files:
            if not os.path.isabs(path):
                errors.append(f"{point}: {path!r} must be an absolute path (e.g. '{{{{ playbook_dir }}}}/hooks/...')")
            elif not os.path.isfile(path):
                errors.append(f"{point}: no task file at {path}")
    return errors
