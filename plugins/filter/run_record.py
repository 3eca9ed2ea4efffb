# Copyright: runbook.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.plugin_utils.run_record import RunRecordError, update


def run_record(record, changes=None, append=None):
    try:
        return update(record, changes, append)
    except RunRecordError as err:
        raise AnsibleFilterError(str(err)) from None


class FilterModule:
    def filters(self):
        return {"run_record": run_record}
