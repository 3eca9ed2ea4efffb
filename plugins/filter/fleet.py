# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet_end filter; documented in fleet_end.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.plugin_utils import fleet


def fleet_end(hosts, started, ended, failures, runs, run_id, batch, max_fail_percentage=0, canary=0):
    if not all(isinstance(value, (list, tuple)) for value in (hosts, started, ended, failures, runs, batch)):
        raise AnsibleFilterError("fleet_end: expects hosts, their marks, failures, records and the batch as lists")
    rows = fleet.host_rows(list(hosts), list(started), list(ended), list(failures), list(runs), str(run_id or ""),
                           canary)  # fmt: skip
    end = fleet.batch_end(rows, list(batch), max_fail_percentage)
    lines = ["%s: %s" % (fleet.label(row), row["text"]) for row in rows]
    return dict(end, rows=rows, summary=fleet.summary(rows), text="; ".join(lines))


class FilterModule:
    def filters(self):
        return {"fleet_end": fleet_end}
