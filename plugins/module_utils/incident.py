# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an incident id may be: it names a directory, a report and a notification's dedup key, so it is one
path segment of letters, digits, dot, dash and underscore, starting with a letter or a digit, at most 64
characters, and nothing else (no separator, no newline, no `..`)."""

from __future__ import annotations

import re

INCIDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
RULE = "must be letters, digits, dot, dash or underscore"


def is_incident_id(value, optional=False):
    """True when `value` is a string that is a whole incident id (or empty, when `optional`)."""
    if not isinstance(value, str):
        return False
    if value == "":
        return bool(optional)
    return INCIDENT_ID.fullmatch(value) is not None
