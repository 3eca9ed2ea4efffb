#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: db_backup
short_description: Take and verify PostgreSQL backups of a compose project
description:
  - With O(state=present), dumps O(database) with C(pg_dump --format=custom) inside the O(service) container
    (C(docker compose exec -T)), so that neither client tools nor the password are needed on the host. The
    dump streams into O(dir), hashed on the way; it is kept only once pg_dump succeeded and C(pg_restore --list)
    read it back. A JSON sidecar records the id, tag, database, time, deployed version, size, sha256, the
    archive's entry count and the row counts of O(tables). The counts and the dump are read in one snapshot
    (C(pg_export_snapshot), C(pg_dump --snapshot)), so a backup taken while users write restores with
    exactly the rows it records (C(consistent=true) in the sidecar).
  - M(runbook.rollback.db_backup_info) lists the backups and chooses the one a restore should use.
  - With O(state=verify), checks the backup O(id) before use, size and sha256 as recorded and the archive
    readable by pg_restore, and fails with one line when it is not.
  - Nothing is ever deleted or overwritten.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.compose
  - runbook.rollback.compose.database
attributes:
  check_mode:
    support: full
    details: O(state=present) reports the backup it would take without dumping; verify runs as usual.
options:
  state:
    description: Take a backup, or verify one.
    type: str
    choices: [present, verify]
    default: present
  dir:
    description: Directory of the dumps and their sidecars.
    type: path
    required: true
  database:
    description: Database to dump.
    type: str
  tables:
    description:
      - Tables whose rows are counted and checksummed into the sidecar, named as the database has them (plain
        identifiers, case and all, optionally schema-qualified).
      - "V([]) is every table of the database: its own name in C(public), C(schema.name) elsewhere."
    type: list
    elements: str
    default: []
  tag:
    description: Why the backup is taken.
    type: str
    choices: [manual, pre_deploy, before_rollback]
    default: manual
  version:
    description: The release deployed when the backup is taken.
    type: str
  id:
    description: The backup to verify.
    type: str
  timeout:
    description: Seconds for each non-streaming call (listing the archive, counting rows).
    type: float
    default: 600
"""

EXAMPLES = r"""
- name: Back up before the deployment's migrations run
  runbook.rollback.db_backup:
    dir: /var/lib/runbook-rollback/backups
    compose_argv: "{{ rollback_compose_argv }}"
    database: app_db
    tables: [users, chats, messages, subscriptions]
    tag: pre_deploy
    version: v1.2.3
  register: backup

- name: Check a backup before it is restored
  runbook.rollback.db_backup:
    state: verify
    dir: /var/lib/runbook-rollback/backups
    compose_argv: "{{ rollback_compose_argv }}"
    id: 20261128T150000Z-pre_deploy-v1.2.3
"""

RETURN = r"""
backup:
  description: The sidecar of the backup taken (present) or verified (verify).
  returned: always
  type: dict
  sample:
    id: 20261128T150000Z-pre_deploy-v1.2.3
    tag: pre_deploy
    database: app_db
    created_at: "2026-11-28T15:00:00Z"
    version: v1.2.3
    format: custom
    file: 20261128T150000Z-pre_deploy-v1.2.3.dump
    size: 48213
    sha256: 9f2c...
    archive_entries: 31
    row_counts: {users: 12, chats: 30, messages: 120, subscriptions: 3}
    consistent: true
    verified: true
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.backup import (
    BackupError,
    Compose,
    compose_options,
    make_id,
    read_sidecars,
    take,
    utc_now,
    verify,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            **compose_options(required=False),
            state=dict(type="str", choices=["present", "verify"], default="present"),
            dir=dict(type="path", required=True),
            database=dict(type="str"),
            tables=dict(type="list", elements="str", default=[]),
            tag=dict(type="str", choices=["manual", "pre_deploy", "before_rollback"], default="manual"),
            version=dict(type="str"),
            id=dict(type="str"),
            timeout=dict(type="float", default=600),
        ),
        required_if=[("state", "present", ("compose_argv", "database")), ("state", "verify", ("compose_argv", "id"))],
        supports_check_mode=True,
    )
    p = module.params
    try:
        compose = Compose(p["compose_argv"], p["service"], p["compose_env"], timeout=p["timeout"],
                          db_user=p["db_user"])
        if p["state"] == "verify":
            backups, _unused = read_sidecars(p["dir"])
            meta = next((b for b in backups if b["id"] == p["id"]), None)
            if meta is None:
                module.fail_json(msg="no backup %s in %s" % (p["id"], p["dir"]))
            verify(compose, p["dir"], meta)
            module.exit_json(changed=False, backup=meta)
        if module.check_mode:
            planned = make_id(utc_now(), p["tag"], p["version"])
            module.exit_json(changed=True, backup={"id": planned, "file": os.path.join(p["dir"], planned + ".dump")})
        meta = take(compose, p["dir"], p["database"], p["tables"], p["tag"], p["version"])
        module.exit_json(changed=True, backup=meta)
    except BackupError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="backup in %s failed: %s" % (p["dir"], exc.strerror or exc))


if __name__ == "__main__":
    main()
