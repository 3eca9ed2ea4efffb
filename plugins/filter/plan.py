# Copyright: runbook.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.module_utils.plan import restart_plan, stage_plan


class FilterModule:
    def filters(self):
        return {"restart_plan": restart_plan, "stage_plan": stage_plan}
