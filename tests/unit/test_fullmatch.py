"""The fullmatch test: input checks with no trailing-newline loophole."""

from __future__ import annotations

import pytest

from ansible_collections.runbook.rollback.plugins.test.fullmatch import fullmatch

INCIDENT = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


@pytest.mark.parametrize("good", ["INC-1", "a", "inc_2.x", "A" * 64])
def test_a_whole_match_passes(good):
    assert fullmatch(good, INCIDENT)


BAD = ["INC-1\n", "INC-1\r\n", "\nINC-1", "../x", "a/b", "", "A" * 65, "x y", None, 7, ["INC-1"]]


@pytest.mark.parametrize("bad", BAD)
def test_anything_else_is_refused(bad):
    assert not fullmatch(bad, INCIDENT)
