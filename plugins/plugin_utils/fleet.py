# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet's rollout, host by host: where each host stands, and whether the rollout ends with this batch.

A fleet is the play's hosts, rolled in batches (the playbooks' ``serial``). Each host marks the start of its
part (``started``, with the run id the fleet shares) and its end (``ended``, with its failure, if any), so a
host is ``done`` or ``failed`` once its batch ended, ``lost`` when it started but never reached its batch's
end (it stopped answering), and ``not reached`` when this run never began on it. Used by the fleet_end filter
(roles/procedure/tasks/fleet.yml) and, for the words, by the timeline callback's fleet report.
"""

from __future__ import annotations

STATES = ("done", "failed", "lost", "not reached")


def _at(values, index, default=""):
    return values[index] if index < len(values) else default


def host_rows(hosts, started, ended, failures, runs, run_id, canary=0):
    """One row per host, in the play's order: {host, state, canary, to_version, reason, text}."""
    rows = []
    for index, host in enumerate(hosts):
        run = _at(runs, index, {})
        run = run if isinstance(run, dict) and run_id and run.get("run_id") == run_id else {}
        release = run.get("release") if isinstance(run.get("release"), dict) else {}
        to_version = release.get("to") or ""
        reason = ""
        if run_id and _at(ended, index) == run_id:
            reason = str(_at(failures, index) or "")
            state = "failed" if reason else "done"
        elif run_id and _at(started, index) == run_id:
            state = "lost"
        else:
            state = "not reached"
        text = row_text(state, to_version, reason)
        rows.append({"host": str(host), "state": state, "canary": index < int(canary or 0),
                     "to_version": to_version, "reason": reason, "text": text})  # fmt: skip
    return rows


def row_text(state, to_version="", reason=""):
    if state == "done":
        return "%s verified" % to_version if to_version else "done"
    if state == "failed":
        return "failed: %s" % (reason or "see its output")
    if state == "lost":
        return "stopped answering part-way; its stack's state is unknown, its lock will be found stale"
    return "not reached, untouched"


def label(row):
    return "%s (canary)" % row["host"] if row["canary"] else row["host"]


def summary(rows):
    """'1 done (web1), 1 failed (web2), 1 not reached (web3)'."""
    parts = []
    for state in STATES:
        named = [row["host"] for row in rows if row["state"] == state]
        if named:
            parts.append("%d %s (%s)" % (len(named), state, ", ".join(named)))
    return ", ".join(parts)


def batch_end(rows, batch, max_fail_percentage=0):
    """Whether the rollout ends with this batch, and how: {ends, event, failed, size}.

    ``batch`` is every host of the batch, as it began. The rollout ends with the batch that holds the fleet's
    last host, with one in which more than max_fail_percentage of the hosts failed or were lost, and with one
    in which all did (Ansible stops there whatever the percentage). The event is ``completed`` when every
    host is done, else ``failed``; None while the rollout goes on.
    """
    index = {row["host"]: i for i, row in enumerate(rows)}
    members = [rows[index[h]] for h in batch if h in index]
    if not members:
        return {"ends": False, "event": None, "failed": 0, "size": 0}
    failed = sum(1 for row in members if row["state"] in ("failed", "lost"))
    try:
        limit = float(max_fail_percentage or 0) / 100.0
    except (TypeError, ValueError):
        limit = 0.0
    last = rows[-1]["host"] in batch
    ends = last or failed / float(len(members)) > limit or failed == len(members)
    event = None
    if ends:
        event = "completed" if all(row["state"] == "done" for row in rows) else "failed"
    return {"ends": ends, "event": event, "failed": failed, "size": len(members)}
