# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The options of the timeline callback, shared by runbook.rollback.timeline and the copy next to the
    # collection's playbooks (playbooks/callback_plugins/runbook_timeline.py) that loads without ansible.cfg.
    DOCUMENTATION = r"""
options:
  dir:
    description:
      - Directory for the JSON timelines; created when missing. Relative paths are relative to the directory
        C(ansible-playbook) runs in. Unset means the table is only printed.
    type: str
    ini:
      - section: runbook_timeline
        key: dir
    env:
      - name: RUNBOOK_TIMELINE_DIR
  report_dir:
    description:
      - Where incident reports go, as C(<report_dir>/<incident>/), on the controller. Unset means the directory
        the report role names (V(rollback_report_dir), the incident's directory in the state directory), which
        is right when the controller is the target host (connection local).
    type: str
    ini:
      - section: runbook_timeline
        key: report_dir
    env:
      - name: RUNBOOK_REPORT_DIR
"""
