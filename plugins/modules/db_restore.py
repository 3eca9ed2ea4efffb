#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: db_restore
short_description: Restore a PostgreSQL backup beside production, then swap it in
description:
  - The steps of a restore that loses nothing, each a O(state), all run inside the O(service) container
    with C(docker compose exec -T) as its postgres user.
  - O(state=checked) changes nothing. It verifies the backup (size and sha256 as recorded, archive
    readable), checks that O(database) exists, and that there is free disk for the emergency backup on the
    host and for the restored copy in the database's volume.
  - O(state=side) restores the backup into the side database O(side) (created owned by the owner of
    O(database), objects owned by that role), with C(pg_restore --jobs) when O(jobs) is above 1, then checks
    that every table of O(tables) holds the sidecar's row count. The side database is dropped again when
    any of that fails; O(database) is never touched.
  - O(state=swapped) first moves every sequence of O(side) up to where O(database) has it, so that ids
    handed out after the backup are never handed out again (sessions or links naming them cannot point at
    somebody else's new row, and the reconciliation export keeps its ids). Then O(database) refuses new
    connections (C(ALLOW_CONNECTIONS false)), the sessions still connected to either database are ended, and
    one transaction renames O(database) to O(kept) and O(side) to O(database), lets O(kept) accept connections
    again and marks the restored O(database) with a comment naming the backup O(id) and O(kept). When it
    fails, O(database) is as it was and accepts connections again.
  - O(state=inspected) changes nothing and reports what the server holds, which a run killed at any point
    leaves behind, that is whether O(database) exists, accepts connections, and is the restore of a backup (the
    swap's mark), the side databases (C(<database>_restore_*)) and the kept ones (C(<database>_before_rollback_*)).
  - O(state=cleaned) undoes what an interrupted run left half-done, before a new restore; it drops the side
    databases of other runs (never O(side)), removes dump copies left in the container's C(/tmp), and lets
    O(database) accept connections again when a swap was cut off after refusing them. Kept databases are
    never touched.
  - O(state=absent) drops the side database O(side); names that are not a side database of O(database)
    are refused, so the kept database can never be dropped by this module.
  - O(state=verified) compares O(database)'s row counts with the backup's (O(id)), or with O(min_rows), and reports
    its connections. A table with fewer rows, or missing, is a problem; more rows are users writing again since
    the restart. Without O(id) nor O(min_rows) it counts O(tables) and only a missing one is a problem (every
    procedure's verification).
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.compose
  - runbook.rollback.compose.database
attributes:
  check_mode:
    support: partial
    details: O(state=checked) and O(state=verified) run as usual; the other states report what they would do.
options:
  state:
    description: The step to run.
    type: str
    choices: [checked, side, swapped, absent, verified, inspected, cleaned]
    required: true
  dir:
    description: Directory of the dumps and their sidecars.
    type: path
    required: true
  id:
    description: The backup to restore (its sidecar in O(dir) gives the row counts to expect).
    type: str
  compose_argv:
    description: The C(docker compose) command line of the project (argv).
    type: list
    elements: str
    required: true
  database:
    description:
      - The production database. Empty with O(state=verified) only, read from the container as the official postgres
        image has it (PGDATABASE, else POSTGRES_DB, else POSTGRES_USER, else postgres).
    type: str
    required: true
  side:
    description: The side database, C(<database>_restore_<stamp>).
    type: str
  kept:
    description: What O(database) is renamed to by the swap, C(<database>_before_rollback_<stamp>).
    type: str
  tables:
    description: Key tables whose row counts must equal the backup's; V([]) is every table the backup counted.
    type: list
    elements: str
    default: []
  min_rows:
    description:
      - O(state=verified) without O(id) only. The rows each table held before, by table name (a procedure counts
        them before anything stops); the table must hold at least as many now.
    type: dict
    default: {}
  jobs:
    description: Parallel pg_restore jobs; 1 streams the archive without copying it into the container.
    type: int
    default: 2
  space_margin:
    description: Factor applied to the estimated disk needs in O(state=checked).
    type: float
    default: 1.5
  timeout:
    description: Seconds for each call into the container (the restore itself included).
    type: float
    default: 3600
"""

EXAMPLES = r"""
- name: Restore the pre-deploy backup beside production
  runbook.rollback.db_restore:
    state: side
    dir: /var/lib/runbook-rollback/backups
    id: 20261128T150000Z-pre_deploy-v1.2.3
    compose_argv: "{{ rollback_compose_argv }}"
    database: app_db
    side: app_db_restore_20261128_151500
    tables: [users, chats, messages, subscriptions]

- name: Swap it in (application services stopped)
  runbook.rollback.db_restore:
    state: swapped
    dir: /var/lib/runbook-rollback/backups
    compose_argv: "{{ rollback_compose_argv }}"
    database: app_db
    side: app_db_restore_20261128_151500
    kept: app_db_before_rollback_20261128_151500
"""

RETURN = r"""
backup:
  description: The backup's sidecar.
  returned: when O(id) is given
  type: dict
owner:
  description: Owner of O(database).
  returned: when state is checked
  type: str
database_size:
  description: Bytes on disk of O(database).
  returned: when state is checked
  type: int
space:
  description: Free and needed bytes on the host (emergency backup) and in the database volume (side copy).
  returned: when state is checked
  type: dict
row_counts:
  description: Row counts of O(tables) in the side database (side) or in O(database) (verified).
  returned: when state is side or verified
  type: dict
problems:
  description: Tables holding fewer rows than the backup, or missing (verified).
  returned: when state is verified
  type: list
  elements: str
connections:
  description: Sessions connected to O(database), and the server's max_connections.
  returned: when state is verified
  type: dict
attempts:
  description: How many tries the swap took (a client connecting in between makes it try again).
  returned: when state is swapped
  type: int
sequences_advanced:
  description: Sequences of the restored database moved up to their values in the replaced one.
  returned: when state is swapped
  type: int
server:
  description:
    - What the server holds of O(database) and of earlier restores of it.
    - C(exists), C(allow_connections), C(restored) (the swap's mark, C({backup, kept}), or null), C(sides) and
      C(kept) (database names).
  returned: when state is inspected or cleaned (before the cleaning)
  type: dict
  sample: {exists: true, allow_connections: true, restored: {backup: 20261128T150000Z-pre_deploy-v1.2.3,
           kept: app_db_before_rollback_20261128_151500}, sides: [], kept: [app_db_before_rollback_20261128_151500]}
dropped:
  description: Side databases of interrupted runs that were dropped.
  returned: when state is cleaned
  type: list
  elements: str
connections_allowed:
  description: Whether O(database) had to be allowed connections again.
  returned: when state is cleaned
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.backup import (
    BackupError,
    Compose,
    compose_options,
    read_sidecars,
    tables_of,
    verify,
)
from ansible_collections.runbook.rollback.plugins.module_utils.restore import (
    allow_connections,
    check,
    check_counts,
    check_db_name,
    clean_leftovers,
    connections,
    database_info,
    drop_side,
    restore_side,
    swap,
)
from ansible_collections.runbook.rollback.plugins.module_utils.restore import state as server_state

STATES = ["checked", "side", "swapped", "absent", "verified", "inspected", "cleaned"]


def _rows(module, table, value):
    try:
        rows = int(value)
    except (TypeError, ValueError):
        rows = -1
    if rows < 0 or isinstance(value, bool):
        module.fail_json(msg="min_rows.%s must be a number of rows, got %r" % (table, value))
    return rows


def main():
    module = AnsibleModule(
        argument_spec=dict(
            **compose_options(required=True),
            state=dict(type="str", choices=STATES, required=True),
            dir=dict(type="path", required=True),
            id=dict(type="str"),
            database=dict(type="str", required=True),
            side=dict(type="str"),
            kept=dict(type="str"),
            tables=dict(type="list", elements="str", default=[]),
            min_rows=dict(type="dict", default={}),
            jobs=dict(type="int", default=2),
            space_margin=dict(type="float", default=1.5),
            timeout=dict(type="float", default=3600),
        ),
        required_if=[
            ("state", "checked", ("id",)),
            ("state", "side", ("id", "side")),
            ("state", "swapped", ("side", "kept", "id")),
            ("state", "absent", ("side",)),
        ],
        supports_check_mode=True,
    )
    p = module.params
    state = p["state"]
    try:
        if p["jobs"] < 1 or p["space_margin"] < 1:
            module.fail_json(msg="jobs and space_margin must be at least 1")
        compose = Compose(p["compose_argv"], p["service"], p["compose_env"], timeout=p["timeout"],
                          db_user=p["db_user"])
        if state == "verified" and not p["database"]:
            p["database"] = compose.database_name()
        check_db_name(p["database"])
        meta = None
        if p["id"]:
            meta = next((b for b in read_sidecars(p["dir"])[0] if b["id"] == p["id"]), None)
            if meta is None:
                module.fail_json(msg="no backup %s in %s" % (p["id"], p["dir"]))
        if state == "checked":
            result = check(compose, p["dir"], meta, p["database"], jobs=p["jobs"], margin=p["space_margin"])
            module.exit_json(changed=False, backup=meta, **result)
        if state == "verified":
            if meta is not None:
                tables, expected, label = tables_of(meta, p["tables"]), meta.get("row_counts") or {}, "backup"
            else:
                tables, label = p["tables"], "before"
                expected = {t: 0 for t in tables}
                expected.update({t: _rows(module, t, n) for t, n in p["min_rows"].items() if t in tables})
            if not tables:
                module.fail_json(msg="state=verified needs tables, or id of a backup that counted some")
            counts, problems = check_counts(compose, p["database"], tables, expected, label=label)
            used, limit = connections(compose, p["database"])
            module.exit_json(changed=False, backup=meta, row_counts=counts, problems=problems,
                             connections={"used": used, "max": limit})  # fmt: skip
        if state == "inspected":
            module.exit_json(changed=False, server=server_state(compose, p["database"]))
        if module.check_mode:
            module.exit_json(changed=True, backup=meta, msg="check mode: %s not run" % state)
        if state == "cleaned":
            before = server_state(compose, p["database"])
            dropped = clean_leftovers(compose, p["database"], keep_side=p["side"])
            allowed = allow_connections(compose, p["database"])
            module.exit_json(changed=bool(dropped) or allowed, server=before, dropped=dropped,
                             connections_allowed=allowed)  # fmt: skip
        if state == "side":
            # Verified again right before use: the file may have changed since the preflight.
            verify(compose, p["dir"], meta)
            info = database_info(compose, p["database"])
            if info is None:
                module.fail_json(msg="database %s does not exist" % p["database"])
            owner = info["owner"]
            counts = restore_side(compose, p["dir"], meta, p["database"], p["side"], owner, p["tables"], jobs=p["jobs"])
            module.exit_json(changed=True, backup=meta, row_counts=counts, side=p["side"])
        if state == "swapped":
            attempts, advanced = swap(compose, p["database"], p["side"], p["kept"], p["id"])
            module.exit_json(changed=True, attempts=attempts, kept=p["kept"], sequences_advanced=advanced)
        dropped = drop_side(compose, p["database"], p["side"])
        module.exit_json(changed=dropped)
    except BackupError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="%s restore step failed: %s" % (state, exc.strerror or exc))


if __name__ == "__main__":
    main()
