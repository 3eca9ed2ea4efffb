# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for runbook.rollback.rollback_decision: the evaluation is pure, so it runs on the
controller and never ships a module to the target host."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.runbook.rollback.plugins.module_utils.decision import (
    ARGUMENT_SPEC,
    DecisionInputError,
    evaluate,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # no remote files
        # Raises AnsibleActionFail with the standard message on a wrong type or a missing option.
        _unused, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            result.update(evaluate(**args))
        except DecisionInputError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        result["changed"] = False
        return result
