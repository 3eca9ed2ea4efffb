# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The timeline callback of the playbook running in this process.

Every task runs in a worker forked from the controller's main process, so a lookup in that worker reads the
callback's steps as they stood when the task began: a drill records its steps and their times on its target
before the playbook ends (lookup runbook_steps). One list, in a module imported once (the callback's own
module may be loaded under another name than the one a lookup would import)."""

from __future__ import annotations

TIMELINE = []


def timeline():
    """The running playbook's timeline callback, or None when it is not enabled."""
    return TIMELINE[0] if TIMELINE else None
