# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet's incident report: one row per host of the rollout, beside each host's own report.

A fleet's hosts each publish their run record (the report role); the timeline callback writes each host's
full report under ``<incident>/<host>/`` and this one, for the whole fleet, at ``<incident>/``. A host of the
fleet that published no record was never reached, or stopped answering before its report (``lost``): the
play's recap says which. Plain data in, text out; nothing here reads files or the network.
"""

from __future__ import annotations

import html

from ansible_collections.runbook.rollback.plugins.plugin_utils import fleet
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_budget import PROCEDURES
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_markdown import _md

SCHEMA = 1


def fleet_of(records):
    """The fleet's hosts in the play's order and how many went first as canaries, from the first record that
    names them (([], 0) for none)."""
    for _host, record in records:
        hosts = record.get("fleet")
        if isinstance(hosts, list) and len(hosts) > 1:
            try:
                canary = int(record.get("canary") or 0)
            except (TypeError, ValueError):
                canary = 0
            return [str(h) for h in hosts], canary
    return [], 0


def build_fleet_report(records, timeline, lost=(), failed=()):
    """The fleet's report.json: its incident, procedure, status and one row per host.

    ``records`` are (host, record) of the hosts that published one, of this run (the first record's run id);
    ``lost`` the hosts the play found unreachable, ``failed`` those with a failed task. A host without a
    record failed before its run began (refused) or stopped answering, or was not reached."""
    hosts, canary = fleet_of(records)
    run_id = records[0][1].get("run_id") if records else None
    published = {host: record for host, record in records if record.get("run_id") == run_id}
    rows = []
    for index, host in enumerate(hosts):
        record = published.get(host)
        if record is not None:
            state = "failed" if record.get("result") == "failed" else "done"
            to_version, reason = record.get("to_version") or "", record.get("reason") or ""
        else:
            state = "lost" if host in lost else "failed" if host in failed else "not reached"
            to_version, reason = "", ""
        rows.append({"host": host, "canary": index < canary, "state": state, "to_version": to_version,
                     "from_version": (record or {}).get("from_version") or "", "reason": reason,
                     "text": fleet.row_text(state, to_version, reason),
                     "report": "%s/report.md" % host if record is not None else None})  # fmt: skip
    first = records[0][1] if records else {}
    letter = str(first.get("procedure") or "").upper()
    return {
        "schema": SCHEMA,
        "kind": "fleet",
        "incident": first.get("incident") or "",
        "procedure": letter,
        "procedure_title": (PROCEDURES.get(letter) or {}).get("title", ""),
        "run_id": first.get("run_id") or "",
        "status": "ok" if rows and all(r["state"] == "done" for r in rows) else "failed",
        "summary": fleet.summary(rows),
        "started_at": (timeline or {}).get("started_at"),
        "ended_at": (timeline or {}).get("ended_at"),
        "duration": (timeline or {}).get("duration"),
        "hosts": rows,
    }


def render_fleet_markdown(report):
    r = report
    lines = [
        "# Incident %s: Procedure %s (%s) on a fleet of %d hosts" % (
            _md(r["incident"]), _md(r["procedure"]), _md(r["procedure_title"]), len(r["hosts"])),
        "",
        "Result: **%s**. %s." % (r["status"], _md(r["summary"])),
        "",
        "Run %s, %s to %s (%s s)." % (_md(r["run_id"]), _md(r["started_at"]), _md(r["ended_at"]), _md(r["duration"])),
        "",
        "| Host | State | Release | Detail | Report |",
        "|---|---|---|---|---|",
    ]  # fmt: skip
    for row in r["hosts"]:
        release = "%s → %s" % (row["from_version"] or "?", row["to_version"]) if row["to_version"] else ""
        lines.append("| %s | %s | %s | %s | %s |" % (
            _md(fleet.label(row)), row["state"], _md(release), _md(row["text"]), _md(row["report"] or "")))  # fmt: skip
    return "\n".join(lines) + "\n"


def render_fleet_html(report):
    r = report

    def e(value):
        return html.escape("" if value is None else str(value), quote=True)

    title = "Incident %s \u2014 Procedure %s on a fleet of %d hosts" % (r["incident"], r["procedure"], len(r["hosts"]))
    rows = "".join(
        "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>" % (
            e(fleet.label(row)), e(row["state"]), e(row["to_version"]), e(row["text"]),
            '<a href="%s">%s</a>' % (e(row["host"] + "/report.html"), e(row["host"])) if row["report"] else "")
        for row in r["hosts"]
    )  # fmt: skip
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">', "<title>%s</title>" % e(title),
        "</head>", "<body>", "<h1>%s</h1>" % e(title),
        "<p>Result: <strong>%s</strong>. %s.</p>" % (e(r["status"]), e(r["summary"])),
        "<table><thead><tr><th>Host</th><th>State</th><th>Release</th><th>Detail</th><th>Report</th></tr></thead>",
        "<tbody>%s</tbody></table>" % rows, "</body>", "</html>",
    ]) + "\n"  # fmt: skip
