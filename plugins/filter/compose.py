# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over `docker compose ps` output; documented in compose_ps.yml, compose_problems.yml, stack_state.yml,
stack_state_line.yml, release_mismatches.yml and with_down_times.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.module_utils.compose import (
    parse_ps,
    problems,
    release_mismatches,
    stack_state,
    stack_state_line,
    with_down_times,
)


def compose_ps(stdout):
    try:
        return parse_ps(stdout)
    except ValueError as exc:
        raise AnsibleFilterError("compose_ps: %s" % exc) from None


def compose_problems(ps_list, expected_services):
    try:
        return problems(ps_list, expected_services)
    except ValueError as exc:
        raise AnsibleFilterError("compose_problems: %s" % exc) from None


def stack_state_filter(ps_list, expected_services=None):
    try:
        return stack_state(ps_list, expected_services)
    except ValueError as exc:
        raise AnsibleFilterError("stack_state: %s" % exc) from None


def stack_state_line_filter(services):
    if not isinstance(services, dict):
        raise AnsibleFilterError("stack_state_line: expects the dictionary that stack_state returns")
    return stack_state_line(services)


def release_mismatches_filter(ps_list, config, version):
    try:
        return release_mismatches(ps_list, config, version)
    except ValueError as exc:
        raise AnsibleFilterError("release_mismatches: %s" % exc) from None


def with_down_times_filter(services, containers):
    if not isinstance(services, list) or not isinstance(containers, list):
        raise AnsibleFilterError("with_down_times: expects the decision's services and compose_info's containers")
    return with_down_times(services, containers)


class FilterModule:
    def filters(self):
        return {
            "compose_ps": compose_ps,
            "compose_problems": compose_problems,
            "stack_state": stack_state_filter,
            "stack_state_line": stack_state_line_filter,
            "release_mismatches": release_mismatches_filter,
            "with_down_times": with_down_times_filter,
        }
