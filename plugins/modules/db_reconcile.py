#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: db_reconcile
short_description: Export the rows a database restore would otherwise lose
description:
  - After a restore, the database kept from before it (O(kept)) may hold rows that users wrote between the
    backup and the rollback. For each of O(tables), counts and exports the rows of O(kept) that O(database)
    does not have.
  - Rows are compared on the columns both tables share, whole rows rather than primary keys, because a
    migration that recreated a table restarts its ids.
  - Missing rows go to O(dest)/<table>.csv (mode 0640) with a header, every column of the kept table, values
    quoted and NULL empty, which C(COPY <table> FROM ... WITH (FORMAT csv, HEADER)) reads back. Tables with
    nothing missing get no file. Neither database is changed.
  - Loading those rows back as they are could collide with restored rows (a recreated table restarts its ids)
    or name columns the restored database lacks. O(dest)/reconcile.sql loads them without collision, in one
    transaction (C(psql -v ON_ERROR_STOP=1 -d <database> -f reconcile.sql)); only the shared columns, each
    table's generated primary key handed out anew, foreign keys between O(tables) pointed at the new ids,
    parents before children.
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
    details: Reads both databases and writes the export as usual; it changes neither database.
options:
  kept:
    description: The database kept from before the restore (C(<db>_before_rollback_<stamp>)).
    type: str
    required: true
  database:
    description: The restored database.
    type: str
    required: true
  tables:
    description: Tables to compare, named as the database has them.
    type: list
    elements: str
    required: true
  dest:
    description: Directory for the CSV files (created, mode 0750).
    type: path
    required: true
  compose_argv:
    description: The C(docker compose) command line of the project (argv).
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds for each short call into the container (the row streams have no limit).
    type: float
    default: 600
"""

EXAMPLES = r"""
- name: Export what the restore did not bring back
  runbook.rollback.db_reconcile:
    kept: app_db_before_rollback_20261128_151500
    database: app_db
    tables: [users, chats, messages, subscriptions]
    dest: /var/lib/runbook-rollback/incidents/INC-42/reconciliation
    compose_argv: "{{ rollback_compose_argv }}"
"""

RETURN = r"""
tables:
  description: Per table, the kept rows, the rows missing from O(database), the CSV file (or null) and a note
    (table absent on one side, columns compared).
  returned: always
  type: dict
  sample:
    messages:
      kept_rows: 57
      missing_rows: 3
      file: /var/lib/runbook-rollback/incidents/INC-42/reconciliation/messages.csv
      note: null
missing_rows:
  description: Rows missing, over every table.
  returned: always
  type: int
summary:
  description: One line, "users 1, chats 2, ...".
  returned: always
  type: str
script:
  description: The reconcile.sql that loads the missing rows into O(database) without collision, or null.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.backup import BackupError, Compose, compose_options
from ansible_collections.runbook.rollback.plugins.module_utils.reconcile import reconcile, summary_line


def main():
    module = AnsibleModule(
        argument_spec=dict(
            **compose_options(required=True),
            kept=dict(type="str", required=True),
            database=dict(type="str", required=True),
            tables=dict(type="list", elements="str", required=True),
            dest=dict(type="path", required=True),
            timeout=dict(type="float", default=600),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        compose = Compose(p["compose_argv"], p["service"], p["compose_env"], timeout=p["timeout"],
                          db_user=p["db_user"])
        report = reconcile(compose, p["kept"], p["database"], p["tables"], p["dest"])
    except BackupError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="reconciliation into %s failed: %s" % (p["dest"], exc.strerror or exc))
    missing = sum(r["missing_rows"] for r in report.values())
    script = os.path.join(p["dest"], "reconcile.sql")
    # The export is a record for people; the databases are unchanged.
    module.exit_json(changed=False, tables=report, missing_rows=missing, summary=summary_line(report),
                     script=script if os.path.exists(script) else None)  # fmt: skip


if __name__ == "__main__":
    main()
