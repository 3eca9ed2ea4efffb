# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill_entry and drill_markdown filters; documented in drill_entry.yml and drill_markdown.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.plugin_utils import drill


def drill_entry(steps, record, tested_at, downtime=None, previous=None, failure=None):
    if not isinstance(steps, dict) or not isinstance(record, dict):
        raise AnsibleFilterError("drill_entry: expects the lookup runbook_steps' result and the run record")
    return drill.drill_entry(steps, record or {}, str(tested_at), downtime or None, previous or None, failure or None)


def drill_markdown(entries, latest=None):
    if not isinstance(entries, (list, tuple)):
        raise AnsibleFilterError("drill_markdown: expects the drill log's entries as a list")
    return drill.drill_markdown(list(entries) + ([latest] if latest else []))


class FilterModule:
    def filters(self):
        return {"drill_entry": drill_entry, "drill_markdown": drill_markdown}
