# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one failure message of every procedure and deploy (roles/procedure/tasks/run.yml): controller-side."""

from __future__ import annotations

import re

_NOTHING_CHANGED = re.compile(r"[;.,]?\s*[Nn]othing (was|has been) changed\.?\s*$")
_SPACE = re.compile(r"\s+")


def _one_line(text):
    return _SPACE.sub(" ", "" if text is None else str(text)).strip()


def _flag(value):
    """A flag that may have come through a template as text ("False", "false", "0", "no", "")."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "no", "0", "none", "off")
    return bool(value)


def _join(parts):
    """Sentences joined: ". " after a part that does not end a sentence, a space after one that does."""
    out = ""
    for part in parts:
        if not part:
            continue
        if out:
            out += " " if out.endswith((".", "!", "?")) else ". "
        out += part
    return out


def failure_message(run, audience="run"):
    """The message a failed run stops with, from what the skeleton gathered; for the team (``audience``
    "team": the notification and the report), the same without the title, which the notification carries
    already, and without the stack's state, which has a field of its own there.

    ``run``: title ("Procedure A", "deploy"), reason (the failed task's message), changes_started (bool),
    final (the procedure's own verdict after it recorded the run: the reason says it all), prefix_final
    (the title even then), detail (what is particular to the procedure: B's database, D's containers),
    history_error (why the failed run could not be recorded), stack_state (which service runs which
    release, said once the stack may have changed) and next (the runbook's next step when the procedure
    cannot put things right itself, said once the stack may have changed)."""
    if audience not in ("run", "team"):
        raise ValueError("audience must be run or team, not %r" % (audience,))
    title = _one_line(run.get("title")) or "the run"
    reason = _one_line(run.get("reason")) or "see the task output above"
    detail = _one_line(run.get("detail"))
    started = _flag(run.get("changes_started"))
    history_error = _one_line(run.get("history_error"))
    history = "The deployment history could not be written: %s" % history_error if history_error else ""
    proposal = _one_line(run.get("next")) if started else ""
    proposal = "Next: %s" % proposal if proposal else ""
    if audience == "team":
        return _join([reason, detail, history, proposal])
    if _flag(run.get("final")) and not _flag(run.get("prefix_final")):
        subject = reason
    else:
        # "before anything was changed" says it once: a reason ending in "nothing was changed" is not repeated.
        before = not started and not detail
        if before:
            reason = _NOTHING_CHANGED.sub("", reason) or reason
        subject = "%s failed%s: %s" % (title, " before anything was changed" if before else "", reason)
    state = _one_line(run.get("stack_state")) if started else ""
    return _join([subject, detail, history, "The stack now runs: %s" % state if state else "", proposal])
