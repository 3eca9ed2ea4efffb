# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for Procedure C; documented in failing_services.yml, service_versions.yml and versions_line.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.module_utils.partial import (
    PinError,
    choose_service,
)
from ansible_collections.runbook.rollback.plugins.module_utils.partial import (
    failing_services as _failing_services,
)
from ansible_collections.runbook.rollback.plugins.module_utils.partial import (
    service_versions as _service_versions,
)
from ansible_collections.runbook.rollback.plugins.module_utils.partial import (
    versions_line as _versions_line,
)


def failing_services(containers, services, endpoints=None, health=None):
    if not isinstance(containers, list):
        raise AnsibleFilterError("failing_services: expects the list that compose_ps returns")
    return _failing_services(containers, list(services or []), endpoints, health)


def pick_service(failing, requested, services):
    """{"service": name or None, "error": one-line reason or ""}."""
    try:
        return {"service": choose_service(requested, list(services or []), failing or []), "error": ""}
    except PinError as exc:
        return {"service": None, "error": str(exc)}


def service_versions(containers, pins=None):
    if not isinstance(containers, list):
        raise AnsibleFilterError("service_versions: expects the list that compose_ps returns")
    return _service_versions(containers, pins)


def versions_line(versions):
    if not isinstance(versions, dict):
        raise AnsibleFilterError("versions_line: expects the dictionary that service_versions returns")
    return _versions_line(versions)


class FilterModule:
    def filters(self):
        return {
            "failing_services": failing_services,
            "pick_service": pick_service,
            "service_versions": service_versions,
            "versions_line": versions_line,
        }
