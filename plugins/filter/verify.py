# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verification's verdict (module_utils/verdict.py); documented in verify_checks.yml and verify_verdict.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.module_utils.verdict import verify_checks, verify_verdict


def verify_checks_filter(gathered):
    if not isinstance(gathered, dict):
        raise AnsibleFilterError(
            "verify_checks: expected a dictionary of what was gathered, got %s" % type(gathered).__name__
        )
    try:
        return verify_checks(gathered)
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("verify_checks: %s" % exc) from None


def verify_verdict_filter(checks):
    try:
        return verify_verdict(list(checks))
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError("verify_verdict: each check needs name, ok and detail (%s)" % exc) from None


class FilterModule:
    def filters(self):
        return {"verify_checks": verify_checks_filter, "verify_verdict": verify_verdict_filter}
