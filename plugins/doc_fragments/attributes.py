# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # What every module of the collection that runs on the target host shares: no diff, POSIX
    # hosts. Each module still documents its own check_mode support.
    DOCUMENTATION = r"""
attributes:
  diff_mode:
    support: none
  platform:
    platforms: posix
"""
