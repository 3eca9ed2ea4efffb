"""The fallback of a failed rollback: which release comes next, and the account of what was tried."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.filter.fallback import FilterModule
from ansible_collections.runbook.rollback.plugins.module_utils.fallback import attempts_line, fallback_choice

SMOKE = "verification failed: smoke: create_chat 502"
STAGE = "staged restart stopped at stage core (billing-service): billing-service: restarting"


def failed(version, reason=SMOKE):
    return {"version": version, "result": "failed", "reason": reason}


def verified(version):
    return {"version": version, "result": "verified", "reason": ""}


# (attempts, depth, last_good, last_good_reason) -> (version, reason fragment)
CHOICES = {
    "first target failed, one fallback allowed": (
        [failed("v1.2.4")], 1, "v1.2.3", "v1.2.3: last deployment verified at T",
        "v1.2.3", "fallback 1 of 1 after v1.2.4 failed; last known good: v1.2.3: last deployment verified at T"),
    "fallback off": ([failed("v1.2.4")], 0, "v1.2.3", "", None, "no fallback: rollback_fallback_depth is 0"),
    "depth used up": ([failed("v1.2.4"), failed("v1.2.3", STAGE)], 1, "v1.2.2", "", None,
                      "no further fallback: rollback_fallback_depth 1 is used up"),
    "second fallback within depth 2": ([failed("v1.2.4"), failed("v1.2.3", STAGE)], 2, "v1.2.2", "",
                                       "v1.2.2", "fallback 2 of 2 after v1.2.3 failed"),
    "history knows no good version": (
        [failed("v1.2.4")], 3, None, "every other verified version is marked bad (v1.2.4)", None,
        "no known-good version left to fall back to (every other verified version is marked bad (v1.2.4))"),
    "no good version, no reason": ([failed("v1.2.4")], 1, "", "", None, "no known-good version left to fall back to"),
    "history proposes a version already tried": (
        [failed("v1.2.4"), failed("v1.2.3")], 5, "v1.2.4", "", None, "proposes v1.2.4 again, which was already tried"),
    "target verified": ([verified("v1.2.4")], 1, "v1.2.3", "", None, "v1.2.4 verified"),
    "fallback verified": ([failed("v1.2.4"), verified("v1.2.3")], 3, "v1.2.2", "", None, "v1.2.3 verified"),
    "depth given as text (extra vars)": ([failed("v1.2.4")], "1", "v1.2.3", "", "v1.2.3", "fallback 1 of 1"),
}


@pytest.mark.parametrize("attempts, depth, last_good, reason_in, version, reason", CHOICES.values(), ids=CHOICES)
def test_fallback_choice(attempts, depth, last_good, reason_in, version, reason):
    choice = fallback_choice(attempts, depth, last_good, reason_in)
    assert choice["version"] == version
    assert reason in choice["reason"]


@pytest.mark.parametrize(
    "attempts, depth",
    [([], 1), (None, 1), ([{"result": "failed"}], 1), ([failed("v1.2.4")], -1), ([failed("v1.2.4")], "one")],
    ids=["no attempts", "not a list", "attempt without version", "negative depth", "depth not a number"],
)
def test_fallback_choice_rejects_bad_input(attempts, depth):
    with pytest.raises(ValueError):
        fallback_choice(attempts, depth, "v1.2.3")


@pytest.mark.parametrize(
    "attempts, line",
    [
        ([failed("v1.2.4")], "v1.2.4 (%s)" % SMOKE),
        ([failed("v1.2.4"), failed("v1.2.3", STAGE)], "v1.2.4 (%s) then v1.2.3 (%s)" % (SMOKE, STAGE)),
        ([failed("v1.2.4"), verified("v1.2.3")], "v1.2.4 (%s) then v1.2.3 (verified)" % SMOKE),
        # Multi-line errors (a compose module's) stay on the one line.
        ([failed("v1.2.4", "stage core:\n  billing  restarting\n")], "v1.2.4 (stage core: billing restarting)"),
        ([{"version": "v1.2.4", "result": "failed"}], "v1.2.4 (failed, no reason recorded)"),
    ],
    ids=["one", "two failed", "failed then verified", "whitespace collapsed", "no reason"],
)
def test_attempts_line(attempts, line):
    assert attempts_line(attempts) == line


def test_filters_turn_bad_input_into_filter_errors():
    filters = FilterModule().filters()
    assert filters["fallback_choice"]([failed("v1.2.4")], 1, "v1.2.3")["version"] == "v1.2.3"
    assert filters["attempts_line"]([failed("v1.2.4")]).startswith("v1.2.4 (")
    with pytest.raises(AnsibleFilterError, match="fallback_choice"):
        filters["fallback_choice"]([], 1)
    with pytest.raises(AnsibleFilterError, match="attempts_line"):
        filters["attempts_line"]([{"result": "failed"}])
