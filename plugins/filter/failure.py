# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failure message of the procedures' skeleton (plugin_utils/failure.py); documented in failure_message.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.plugin_utils.failure import failure_message


def failure_message_filter(run, audience="run"):
    if not isinstance(run, dict):
        raise AnsibleFilterError("failure_message: expected a dictionary, got %s" % type(run).__name__)
    try:
        return failure_message(run, audience)
    except ValueError as exc:
        raise AnsibleFilterError("failure_message: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"failure_message": failure_message_filter}
