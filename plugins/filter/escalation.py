# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's escalation levels and an incident's clock.

Documented in escalation_level.yml, escalation_entry.yml, incident_clock.yml and incident_record.yml.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.module_utils.escalation import (
    escalation,
    escalation_level_entry,
    incident_clock,
    incident_record,
)


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


def incident_clock_filter(state, now_epoch, started_at=None, event="started"):
    try:
        return incident_clock(state, now_epoch, started_at, event)
    except (ValueError, TypeError) as exc:
        raise AnsibleFilterError("incident_clock: %s" % exc) from None


def incident_record_filter(clock, incident, event, now_epoch, reached_level=1):
    if not isinstance(clock, dict) or "started_at" not in clock:
        raise AnsibleFilterError("incident_record: the input must be what incident_clock returned, got %r" % (clock,))
    try:
        return incident_record(clock, incident, event, now_epoch, reached_level)
    except (ValueError, TypeError) as exc:
        raise AnsibleFilterError("incident_record: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {
            "escalation_level": escalation_level_filter,
            "escalation_entry": escalation_entry_filter,
            "incident_clock": incident_clock_filter,
            "incident_record": incident_record_filter,
        }
