# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet's rollout, host by host: where each host stands, and whether the rollout ends with this batch.

A fleet is the play's hosts, rolled in batches (the playbooks' ``serial``); each host's run record (the
procedure role's ``rollback_run``) says what it did. A host is ``done`` or ``failed`` once its batch ended, is
``lost`` when its run began but its batch's end never came for it (it stopped answering), and is ``not
reached`` when this run never began on it. Used by the fleet_end filter (roles/procedure/tasks/fleet.yml)
and by the timeline callback's fleet report.
"""

from __future__ import annotations

STATES = ("done", "failed", "lost", "not reached")


def host_rows(hosts, runs, ended, run_id, canary=False):
    """One row per host, in the play's order: {host, state, canary, to_version, reason, text}."""
    rows = []
    for index, host in enumerate(hosts):
        run = runs[index] if index < len(runs) and isinstance(runs[index], dict) else {}
        mine = bool(run_id) and run.get("run_id") == run_id
        release = run.get("release") if isinstance(run.get("release"), dict) else {}
        to_version = release.get("to") or ""
        reason = str(run.get("failure") or "") if mine else ""
        if mine and index < len(ended) and ended[index] == run_id:
            state = "failed" if reason else "done"
        elif mine:
            state = "lost"
        else:
            state = "not reached"
        text = row_text(state, to_version, reason)
        rows.append({"host": str(host), "state": state, "canary": bool(canary) and index == 0,
                     "to_version": to_version, "reason": reason, "text": text})  # fmt: skip
    return rows


def row_text(state, to_version="", reason=""):
    if state == "done":
        return "%s verified" % to_version if to_version else "done"
    if state == "failed":
        return "failed: %s" % (reason or "see its report")
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

    The batch is its hosts still in play, with the hosts next to them in the play's order that were lost in it
    (batches are runs of consecutive hosts). It ends the rollout when it holds the fleet's last host, or when
    more than max_fail_percentage of its hosts failed or were lost. The event is ``completed`` when every
    host is done, else ``failed``; None while the rollout goes on.
    """
    index = {row["host"]: i for i, row in enumerate(rows)}
    alive = sorted(index[h] for h in batch if h in index)
    if not alive:
        return {"ends": False, "event": None, "failed": 0, "size": 0}
    first, last = alive[0], alive[-1]
    while first > 0 and rows[first - 1]["state"] == "lost":
        first -= 1
    while last + 1 < len(rows) and rows[last + 1]["state"] == "lost":
        last += 1
    members = rows[first : last + 1]
    failed = sum(1 for row in members if row["state"] in ("failed", "lost"))
    try:
        limit = float(max_fail_percentage or 0) / 100.0
    except (TypeError, ValueError):
        limit = 0.0
    ends = last == len(rows) - 1 or failed / float(len(members)) > limit
    event = None
    if ends:
        event = "completed" if all(row["state"] == "done" for row in rows) else "failed"
    return {"ends": ends, "event": event, "failed": failed, "size": len(members)}
