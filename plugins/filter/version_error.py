# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release-tag check of git_release, as a filter, so preflight can run it before the lock."""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.module_utils.versions import (
    DEFAULT_VERSION_PATTERN,
    VersionError,
    validate_version,
)


def version_error(version, pattern=DEFAULT_VERSION_PATTERN):
    try:
        validate_version(version, pattern)
    except VersionError as exc:
        return str(exc)
    return ""


class FilterModule:
    def filters(self):
        return {"version_error": version_error}
