# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alert_rules filter; documented in alert_rules.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.module_utils import alert_rules as rules
from ansible_collections.runbook.rollback.plugins.module_utils.decision import DecisionInputError


def alert_rules(thresholds=None, baseline=None):
    try:
        return rules.alert_rules(thresholds or None, baseline or None)
    except DecisionInputError as exc:
        raise AnsibleFilterError("alert_rules: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"alert_rules": alert_rules}
