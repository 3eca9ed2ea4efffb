# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""When a rollback's target fails: whether to fall back to an earlier known-good release, and the account
of every release tried.

An attempt is a dict ``{"version": "v1.2.4", "result": "verified" | "failed", "reason": "..."}``; the first
attempt is the target preflight chose, each later one a fallback.
"""

from __future__ import annotations

VERIFIED = "verified"


def _check(attempts):
    if not isinstance(attempts, list) or not attempts:
        raise ValueError("attempts must be a non-empty list (the first is the rollback's own target)")
    for attempt in attempts:
        if not isinstance(attempt, dict) or not isinstance(attempt.get("version"), str) or not attempt["version"]:
            raise ValueError("every attempt needs a version, got %r" % (attempt,))


def fallback_choice(attempts, depth, last_good=None, last_good_reason=""):
    """The release to try next, or why there is none: ``{"version": str or None, "reason": str}``.

    ``depth`` is how many fallbacks may follow the first attempt (0: none). ``last_good`` is the
    deployment history's last known good version once the failed attempts are recorded in it (so they
    count as bad); a version already tried is never proposed again.
    """
    _check(attempts)
    try:
        depth = int(depth)
    except (TypeError, ValueError):
        raise ValueError("depth must be a whole number, got %r" % (depth,)) from None
    if depth < 0:
        raise ValueError("depth must be 0 or more, got %d" % depth)
    verified = [a["version"] for a in attempts if a.get("result") == VERIFIED]
    if verified:
        return {"version": None, "reason": "%s verified" % verified[-1]}
    if depth == 0:
        return {"version": None, "reason": "no fallback: rollback_fallback_depth is 0"}
    used = len(attempts) - 1
    if used >= depth:
        return {"version": None, "reason": "no further fallback: rollback_fallback_depth %d is used up" % depth}
    if not last_good:
        reason = "no known-good version left to fall back to"
        return {"version": None, "reason": reason + (" (%s)" % last_good_reason if last_good_reason else "")}
    if last_good in [a["version"] for a in attempts]:
        return {"version": None,
                "reason": "no known-good version left to fall back to (the history proposes %s again, "
                          "which was already tried)" % last_good}
    why = "fallback %d of %d after %s failed" % (used + 1, depth, attempts[-1]["version"])
    return {"version": last_good, "reason": why + ("; last known good: %s" % last_good_reason if last_good_reason
                                                   else "")}


def attempts_line(attempts):
    """``v1.2.4 (verification failed: ...) then v1.2.3 (verified)``: every release tried, in order, and its fate."""
    _check(attempts)
    parts = []
    for attempt in attempts:
        if attempt.get("result") == VERIFIED:
            why = VERIFIED
        else:
            why = " ".join(str(attempt.get("reason") or "failed, no reason recorded").split())
        parts.append("%s (%s)" % (attempt["version"], why))
    return " then ".join(parts)
