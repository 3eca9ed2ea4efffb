# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a report or a task may say about a notification (documented in notify_line.yml). The sending is
the action runbook.rollback.notify's."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.module_utils import notify


def notify_line(entry, with_event=False):
    try:
        return notify.delivery_line(entry, with_event)
    except (AttributeError, TypeError) as exc:
        raise AnsibleFilterError("notify_line: %s" % exc) from None


class FilterModule:
    def filters(self):
        return {"notify_line": notify_line}
