# Copyright: runbook.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.module_utils.plan import restart_plan, stage_plan
from ansible_collections.runbook.rollback.plugins.plugin_utils.procedure_plan import (
    code_rollback_plan,
    restore_plan,
    shutdown_plan,
    single_service_plan,
)

PLANS = {"A": code_rollback_plan, "B": restore_plan, "C": single_service_plan, "D": shutdown_plan}


def procedure_plan(run, procedure="A"):
    if not isinstance(run, dict):
        raise AnsibleFilterError("procedure_plan: expected a dictionary, got %s" % type(run).__name__)
    if procedure not in PLANS:
        raise AnsibleFilterError("procedure_plan: no plan for procedure %r" % procedure)
    return PLANS[procedure](run)


class FilterModule:
    def filters(self):
        return {"restart_plan": restart_plan, "stage_plan": stage_plan, "procedure_plan": procedure_plan}
