"""The fullmatch test: input checks with no trailing-newline loophole."""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_collections.runbook.rollback.plugins.test.fullmatch import fullmatch, incident_id

INCIDENT = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


@pytest.mark.parametrize("good", ["INC-1", "a", "inc_2.x", "A" * 64])
def test_a_whole_match_passes(good):
    assert fullmatch(good, INCIDENT)


BAD = ["INC-1\n", "INC-1\r\n", "\nINC-1", "../x", "a/b", "", "A" * 65, "x y", None, 7, ["INC-1"]]


@pytest.mark.parametrize("bad", BAD)
def test_anything_else_is_refused(bad):
    assert not fullmatch(bad, INCIDENT)


# --------------------------------------------------------------------------- incident_id: the one rule


@pytest.mark.parametrize("good", ["INC-1", "a", "inc_2.x", "A" * 64, "2026-12-01T10.00Z", "t-broken"])
def test_an_incident_id_is_one_safe_path_segment(good):
    assert incident_id(good) and incident_id(good, optional=True)


@pytest.mark.parametrize("bad", [*BAD[:4], "..", ".hidden", "-x", "../../../tmp/x", "a\\b", "inc 1", "inc\t1"])
def test_an_unsafe_incident_id_is_refused_even_when_optional(bad):
    assert not incident_id(bad)
    assert not incident_id(bad, optional=True)


def test_the_empty_id_passes_only_when_optional():
    assert not incident_id("")
    assert incident_id("", optional=True)
    assert not incident_id(None, optional=True)


def test_every_playbook_and_role_checks_the_incident_with_the_one_rule():
    """No copy of the pattern is left in a task file: the rule lives in module_utils/incident.py only."""
    root = Path(__file__).resolve().parents[2]
    copies = [str(p.relative_to(root)) for p in [*root.glob("roles/*/tasks/*.yml"), *root.glob("playbooks/*.yml")]
              if "{0,63}" in p.read_text()]  # fmt: skip
    assert copies == []
