# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release-tag validation and ordering, shared by git_release and deploy_history."""

from __future__ import annotations

import re

DEFAULT_VERSION_PATTERN = r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$"

# Whatever version_pattern a caller configures, a version ends up as a git ref name and
# an argv element: this floor keeps option-like ("-x"), path-walking ("..") and
# refspec-special characters (":", "^", "~", "@{", spaces) out even under a lax pattern.
_SAFE_REF = re.compile(r"[0-9A-Za-z][0-9A-Za-z._+-]*")
_MAX_QUOTED = 80

_SEMVER = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?")


class VersionError(ValueError):
    pass


def quote(value, limit=_MAX_QUOTED):
    """Render untrusted input for a one-line message: no control characters, bounded length."""
    text = value if isinstance(value, str) else str(value)
    truncated = len(text) > limit
    text = text[:limit]
    escaped = text.encode("unicode_escape").decode("ascii").replace("'", "\\'")
    return "'%s'%s" % (escaped, "..." if truncated else "")


def is_valid_version(version, pattern=DEFAULT_VERSION_PATTERN):
    if not isinstance(version, str) or not version:
        return False
    # fullmatch: with re.match a "$" would also accept a trailing newline.
    if not re.fullmatch(pattern, version):
        return False
    return bool(_SAFE_REF.fullmatch(version)) and ".." not in version and not version.endswith((".", ".lock"))


def validate_version_pattern(pattern):
    """Return the pattern unchanged, or raise VersionError when it is no regular expression."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise VersionError("invalid version_pattern %s: %s" % (quote(pattern), exc)) from None
    return pattern


def validate_version(version, pattern=DEFAULT_VERSION_PATTERN):
    """Return the version unchanged, or raise VersionError with the message the modules fail with."""
    validate_version_pattern(pattern)
    if not is_valid_version(version, pattern):
        raise VersionError("invalid version %s: expected a release tag like v1.2.3" % quote(version))
    return version


def _prerelease_key(prerelease):
    # SemVer 2.0 section 11: numeric identifiers sort numerically and below alphanumeric ones.
    key = []
    for ident in prerelease.split("."):
        if ident.isdigit():
            key.append((0, int(ident), ""))
        else:
            key.append((1, 0, ident))
    return tuple(key)


def semver_key(tag):
    """Sort key giving SemVer precedence; tags that are not SemVer sort below all that are."""
    m = _SEMVER.fullmatch(tag)
    if not m:
        return (0, (), 0, (), tag)
    major, minor, patch, pre = m.groups()
    # A release outranks its own pre-releases (1.0.0-rc.1 < 1.0.0).
    pre_key = (0, _prerelease_key(pre)) if pre else (1, ())
    return (1, (int(major), int(minor), int(patch)), pre_key[0], pre_key[1], tag)


def sort_versions(tags, newest_first=True):
    return sorted(tags, key=semver_key, reverse=newest_first)


def release_tags(tags, pattern=DEFAULT_VERSION_PATTERN):
    """Filter raw tag names down to release tags, newest first, de-duplicated."""
    return sort_versions({t for t in tags if is_valid_version(t, pattern)})
