# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's escalation levels; documented in escalation_level.yml and escalation_entry.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.module_utils.escalation import escalation, escalation_level_entry


def escalation_level_filter(facts):
    if not isinstance(facts, dict):
        raise AnsibleFilterError("escalation_level: the input must be a dict, got %r" % (facts,))
    unknown = set(facts) - {"failed", "fell_back", "data_at_risk", "downtime_seconds"}
    if unknown:
        raise AnsibleFilterError("escalation_level: unknown keys %s" % ", ".join(sorted(unknown)))
    try:
        return escalation(**facts)
    except ValueError as exc:
        raise AnsibleFilterError("escalation_level: %s" % exc) from None


def escalation_entry_filter(levels, level):
    try:
        return escalation_level_entry(levels, level)
    except ValueError as exc:
        raise AnsibleFilterError("escalation_entry: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"escalation_level": escalation_level_filter, "escalation_entry": escalation_entry_filter}
