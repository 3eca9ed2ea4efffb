# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Jinja test that a whole string matches a pattern: input checks with no trailing-newline loophole."""

from __future__ import annotations

import re

from ansible_collections.runbook.rollback.plugins.module_utils.incident import is_incident_id


def fullmatch(value, pattern):
    """True when `value` is a string and the whole of it matches `pattern`.

    Ansible's `match` test is re.match: a pattern ending in `$` also accepts the same text followed by
    a newline ("INC-1\\n"), which then reaches file names, log lines and messages."""
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


def incident_id(value, optional=False):
    """True when `value` is a whole incident id (module_utils/incident.py), or empty when `optional`."""
    return is_incident_id(value, optional)


class TestModule:
    def tests(self):
        return {"fullmatch": fullmatch, "incident_id": incident_id}
