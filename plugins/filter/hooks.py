# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A site's hooks around the runbook steps (plugin_utils/hooks.py); documented in hook_errors.yml and hook_files.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.plugin_utils.hooks import hook_errors, hook_files


def hook_files_filter(hooks, point):
    files = hook_files((hooks or {}).get(point, [])) if isinstance(hooks, dict) else None
    if files is None:
        raise AnsibleFilterError("hook_files: rollback_hooks.%s must be a task file's path or a list of them" % point)
    return files


class FilterModule:
    def filters(self):
        return {"hook_errors": hook_errors, "hook_files": hook_files_filter}
