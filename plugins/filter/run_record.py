# Copyright: runbook.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.plugin_utils.run_record import RunRecordError, backup_entry, update


def run_record(record, changes=None, append=None, backup=None, backup_role="backup"):
    try:
        if backup is not None:
            append = dict(append or {})
            append["backups"] = list(append.get("backups") or []) + [backup_entry(backup, backup_role)]
        return update(record, changes, append)
    except RunRecordError as err:
        raise AnsibleFilterError(str(err)) from None


class FilterModule:
    def filters(self):
        return {"run_record": run_record}
