# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One line per backup for restore.yml -e list=true."""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.module_utils.backup import human


def backup_line(meta):
    counts = meta.get("row_counts") or {}
    rows = ", ".join("%s %s" % (t, "-" if n is None else n) for t, n in counts.items()) or "no counts"
    flags = "" if meta.get("dump_present", True) else "  [DUMP MISSING]"
    return "%s  %-9s %-15s %10s  %s  %s%s" % (
        meta.get("created_at", "?"),
        meta.get("version") or "?",
        meta.get("tag", "?"),
        human(meta.get("size")),
        rows,
        meta.get("id", "?"),
        flags,
    )


class FilterModule:
    def filters(self):
        return {"backup_line": backup_line}
