#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: db_backup_info
short_description: List the PostgreSQL backups of a compose project, and choose the one a restore should use
description:
  - Reads the JSON sidecars that M(runbook.rollback.db_backup) writes beside each dump in O(dir), and returns
    them oldest first, each with C(dump_present). Nothing is read from the dumps, and nothing is changed.
  - With O(select=true), also chooses the backup a restore should use; the one named by O(id), the newest
    taken on O(date) (emergency C(before_rollback) backups are left out), or by default the backup taken
    before the deployment that brought the running release, from the deployment history O(history) (its
    pre-deploy backup, else the newest backup older than it). It fails with one line when there is none,
    when its dump is missing, or when it was taken on another release than O(version).
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
attributes:
  check_mode:
    support: full
    details: It only reads; the result is the same in check mode.
options:
  dir:
    description: Directory of the dumps and their sidecars.
    type: path
    required: true
  select:
    description: Choose the backup a restore should use, and return it as RV(backup).
    type: bool
    default: false
  id:
    description: With O(select=true), the backup to choose.
    type: str
  date:
    description: With O(select=true), the UTC day (YYYY-MM-DD) whose newest backup is chosen.
    type: str
  version:
    description: With O(select=true), the release the chosen backup must have been taken on.
    type: str
  history:
    description: With O(select=true), the deployment history file (C(deployments.jsonl)).
    type: path
seealso:
  - module: runbook.rollback.db_backup
"""

EXAMPLES = r"""
- name: List the backups
  runbook.rollback.db_backup_info:
    dir: /var/lib/runbook-rollback/backups
  register: backups

- name: Choose the backup taken before the running release was deployed
  runbook.rollback.db_backup_info:
    dir: /var/lib/runbook-rollback/backups
    history: /var/lib/runbook-rollback/deployments.jsonl
    select: true
  register: chosen
"""

RETURN = r"""
backups:
  description: Every backup's sidecar, oldest first, with C(dump_present).
  returned: always
  type: list
  elements: dict
backup:
  description: The sidecar of the chosen backup, as M(runbook.rollback.db_backup) wrote it.
  returned: when O(select=true)
  type: dict
  sample:
    id: 20261128T150000Z-pre_deploy-v1.2.3
    tag: pre_deploy
    version: v1.2.3
    file: 20261128T150000Z-pre_deploy-v1.2.3.dump
reason:
  description: Why this backup was chosen.
  returned: when O(select=true)
  type: str
  sample: the pre-deploy backup of the deployment that brought v1.3.0
warnings:
  description: Sidecars that could not be read.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.backup import BackupError, read_sidecars
from ansible_collections.runbook.rollback.plugins.module_utils.history import HistoryError, read_history
from ansible_collections.runbook.rollback.plugins.module_utils.restore import choose


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dir=dict(type="path", required=True),
            select=dict(type="bool", default=False),
            id=dict(type="str"),
            date=dict(type="str"),
            version=dict(type="str"),
            history=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        backups, warnings = read_sidecars(p["dir"])
        for warning in warnings:
            module.warn(warning)
        result = dict(changed=False, backups=backups, warnings=warnings)
        if p["select"]:
            entries = read_history(p["history"])[0] if p["history"] else []
            result["backup"], result["reason"] = choose(
                backups, entries, backup_id=p["id"], backup_date=p["date"], version=p["version"]
            )
        module.exit_json(**result)
    except (BackupError, HistoryError) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="reading the backups in %s failed: %s" % (p["dir"], exc.strerror or exc))


if __name__ == "__main__":
    main()
