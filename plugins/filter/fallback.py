# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A rollback's fallback to earlier known-good releases; documented in fallback_choice.yml and attempts_line.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.module_utils.fallback import attempts_line, fallback_choice


def fallback_choice_filter(attempts, depth, last_good=None, last_good_reason=""):
    try:
        return fallback_choice(attempts, depth, last_good, last_good_reason)
    except ValueError as exc:
        raise AnsibleFilterError("fallback_choice: %s" % exc) from None


def attempts_line_filter(attempts):
    try:
        return attempts_line(attempts)
    except ValueError as exc:
        raise AnsibleFilterError("attempts_line: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"fallback_choice": fallback_choice_filter, "attempts_line": attempts_line_filter}
