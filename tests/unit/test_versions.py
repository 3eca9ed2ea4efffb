from __future__ import annotations

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.versions import (
    DEFAULT_VERSION_PATTERN,
    VersionError,
    is_valid_version,
    quote,
    release_tags,
    sort_versions,
    validate_version,
)


@pytest.mark.parametrize(
    "version, valid",
    [
        ("v1.2.3", True),
        ("v0.0.0", True),
        ("v10.20.30", True),
        ("v1.2.3-rc.1", True),
        ("v1.2.3-hotfix-2", True),
        ("v1.2.3;touch /tmp/x", False),
        ("v1.2.3 && rm -rf /", False),
        ("$(id)", False),
        ("1.2.3", False),
        ("v1.2", False),
        ("v01.2.3", False),
        ("v1.02.3", False),
        ("v1.2.3\n", False),
        ("v1.2.3 ", False),
        ("-v1.2.3", False),
        ("--upload-pack=x", False),
        ("v1.2.3-", False),
        ("v1.2.3+build", False),
        ("", False),
        (None, False),
        (123, False),
    ],
)
def test_default_pattern(version, valid):
    assert is_valid_version(version) is valid


@pytest.mark.parametrize(
    "pattern, version, valid",
    [
        # A lax custom pattern still cannot let refspec or option syntax through.
        (r".*", "-x", False),
        (r".*", "v1..2", False),
        (r".*", "v1:2", False),
        (r".*", "v1^{tree}", False),
        (r".*", "release-2024.11", True),
        (r"^release-\d+$", "release-7", True),
        (r"^release-\d+$", "v1.2.3", False),
    ],
)
def test_custom_pattern_keeps_safety_floor(pattern, version, valid):
    assert is_valid_version(version, pattern) is valid


def test_validate_version_message_quotes_input_safely():
    with pytest.raises(VersionError) as exc:
        validate_version("v1.2.3;touch /tmp/x\n\x1b[31m")
    msg = str(exc.value)
    assert msg.startswith("invalid version 'v1.2.3;touch /tmp/x\\n\\x1b[31m': expected a release tag like v1.2.3")
    assert "\n" not in msg and "\x1b" not in msg


def test_validate_version_rejects_bad_pattern():
    with pytest.raises(VersionError, match="invalid version_pattern"):
        validate_version("v1.2.3", "(")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("abc", "'abc'"),
        ("it's", "'it\\'s'"),
        ("a" * 100, "'" + "a" * 80 + "'..."),
        (None, "'None'"),
    ],
)
def test_quote(value, expected):
    assert quote(value) == expected


@pytest.mark.parametrize(
    "tags, expected",
    [
        (["v1.2.3", "v1.10.0", "v1.9.9"], ["v1.10.0", "v1.9.9", "v1.2.3"]),
        (["v1.0.0-rc.1", "v1.0.0", "v1.0.0-beta"], ["v1.0.0", "v1.0.0-rc.1", "v1.0.0-beta"]),
        (["v1.0.0-rc.2", "v1.0.0-rc.10"], ["v1.0.0-rc.10", "v1.0.0-rc.2"]),
        (["v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-1"], ["v1.0.0-alpha.1", "v1.0.0-alpha", "v1.0.0-1"]),
        (["v2.0.0", "not-semver", "v0.1.0"], ["v2.0.0", "v0.1.0", "not-semver"]),
        ([], []),
    ],
)
def test_sort_versions(tags, expected):
    assert sort_versions(tags) == expected


def test_release_tags_filters_and_dedupes():
    raw = ["v1.2.3", "v1.2.4", "latest", "v1.2", "v1.2.4", "deploy-2026", "v1.3.0-rc.1", "v1.3.0"]
    assert release_tags(raw, DEFAULT_VERSION_PATTERN) == ["v1.3.0", "v1.3.0-rc.1", "v1.2.4", "v1.2.3"]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("v1.2.3", ""),
        ("v1.3.0-rc.1", ""),
        ("v1.2.3;touch /tmp/x", "invalid version 'v1.2.3;touch /tmp/x': expected a release tag like v1.2.3"),
        ("v1.2.3\n", "invalid version 'v1.2.3\\n': expected a release tag like v1.2.3"),
        ("1.2.3", "invalid version '1.2.3': expected a release tag like v1.2.3"),
    ],
)
def test_version_error_filter_says_what_git_release_says(version, expected):
    from ansible_collections.runbook.rollback.plugins.filter.version_error import FilterModule

    assert FilterModule().filters()["version_error"](version) == expected
