# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: runbook_timeline
type: aggregate
short_description: The runbook.rollback.timeline callback, loaded by the collection's playbooks themselves
description:
  - Ansible loads callback plugins found next to the playbook it runs without any configuration. This one is
    C(runbook.rollback.timeline) (step timeline, budget summary, incident report) for runs of
    C(playbooks/*.yml), so that nobody has to edit ansible.cfg for the report.
  - Stands down when C(runbook.rollback.timeline) is enabled in the configuration anyway, so a run never
    reports twice.
author:
  - runbook.rollback maintainers
extends_documentation_fragment:
  - runbook.rollback.timeline
"""

from ansible import constants as C

from ansible_collections.runbook.rollback.plugins.callback.timeline import CallbackModule as TimelineCallback

ENABLED_NAMES = ("runbook.rollback.timeline",)


class CallbackModule(TimelineCallback):
    CALLBACK_NAME = "runbook_timeline"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, display=None):
        super().__init__(display=display)
        # The collection's own callback runs when configured: this copy would print and write it all twice.
        self.stand_down = any(name in ENABLED_NAMES for name in (C.CALLBACKS_ENABLED or []))

    def v2_playbook_on_stats(self, stats):
        if not self.stand_down:
            super().v2_playbook_on_stats(stats)
