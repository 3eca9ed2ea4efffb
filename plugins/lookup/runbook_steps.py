# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: runbook_steps
author: runbook.rollback maintainers (!UNKNOWN)
version_added: 0.1.0
short_description: This run's runbook steps so far, each against the runbook's time budget
description:
  - What the timeline callback (the callback plugin runbook.rollback.timeline, enabled in
    C(callbacks_enabled)) has recorded of this playbook's steps up to the task that asks, read in that task's
    worker. Each step's time,
    the runbook's steps of a procedure with their time against the budget, and the interruption of service
    the steps show.
  - Used to record a drill on its target before the playbook ends (roles/report/tasks/drill.yml); the
    incident report, written by the callback at the end, says the same for the whole run.
  - Returns one empty result (no steps) when the callback is not enabled.
options:
  procedure:
    description: The procedure's letter (A, B, C or D) whose runbook steps and budgets to give; empty for none.
    type: str
    required: true
  host:
    description: The host whose own steps to give (a fleet's); all the run's steps when it has none of its own.
    type: str
"""

EXAMPLES = r"""
- name: Read the drill's steps against their budgets
  ansible.builtin.set_fact:
    drill_steps: "{{ lookup('runbook.rollback.runbook_steps', procedure='A', host=inventory_hostname) }}"
"""

RETURN = r"""
_raw:
  description: One result.
  type: list
  elements: dict
  contains:
    steps:
      description: Each timeline step (name, started_at, ended_at, duration, status).
      type: list
    rows:
      description: The runbook's steps of the procedure, each with duration, budget (low, high minutes) and verdict.
      type: list
    interruption:
      description: The interruption of service the steps show (seconds, from, to, basis).
      type: dict
    seconds:
      description: Seconds since the playbook began.
      type: float
    started_at:
      description: When the playbook began (ISO 8601, UTC), or null without the callback.
      type: str
    playbook:
      description: The playbook's file name, or null without the callback.
      type: str
"""

import time

from ansible.plugins.lookup import LookupBase

from ansible_collections.runbook.rollback.plugins.plugin_utils import report_budget, running


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        letter = str(self.get_option("procedure") or "").upper()
        callback = running.timeline()
        now = time.time()
        if callback is None:
            return [{"steps": [], "rows": [], "interruption": report_budget.interruption(letter, [], "ok", now),
                     "seconds": 0.0, "started_at": None, "playbook": None, "version": None}]  # fmt: skip
        steps, started = callback.steps_so_far(self.get_option("host"))
        status = "failed" if any(s["status"] == "failed" for s in steps) else "ok"
        return [{
            "steps": steps,
            "rows": report_budget.budget_rows(letter, steps),
            "interruption": report_budget.interruption(letter, steps, status, now),
            "seconds": round(now - started, 1),
            "started_at": report_budget.iso(started),
            **callback.about(),
        }]  # fmt: skip
