#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: db_backup_import
short_description: Make PostgreSQL dumps taken by another tool into backups a restore can use
description:
  - Each dump of O(src) (a file, or every C(.sql), C(.sql.gz), C(.dump), C(.pgdump) and C(.backup) file of a
    directory) is loaded into a scratch database beside O(database), in the same server (C(docker compose exec -T)
    into the O(service) container), its rows counted and checksummed there, then dumped in the custom format
    into O(dir) with a sidecar like any backup's (M(runbook.rollback.db_backup)), tag C(imported), the source's
    name, format and sha256 recorded. The scratch database is dropped whatever happens.
  - Plain SQL as C(pg_dump) writes it by default, gzipped plain SQL, and custom-format archives are read. Every
    source is read through first and refused in one line when it is empty, cut short (a plain dump without
    pg_dump's closing line), unreadable, or holds a line that would act outside the database it is loaded into
    (C(\connect), C(\!), C(CREATE), C(DROP) or C(ALTER DATABASE), as C(pg_dump --create --clean) writes);
    a dump that holds no table is not imported.
  - A plain dump is loaded as it is, so the roles its owners and grants name must exist in the server; a custom
    archive is loaded without owners and grants.
  - Every table of a dump has its rows counted and checksummed (its own name in C(public), C(schema.name)
    elsewhere). The backup's time is the archive's own for a custom one, else the file's modification time
    (recorded as such in C(created_at_from)).
  - The sidecar records no release, since which one the dump was taken on is not known; a restore of it is
    given one (C(-e version)).
  - A source already imported (same sha256) is not imported again; the source files are only read.
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
    details: Reads every dump through and lists those that would be imported; loads nothing.
options:
  src:
    description: A dump file, or a directory of dump files, on the target.
    type: path
    required: true
  dir:
    description: Directory of the backups and their sidecars.
    type: path
    required: true
  database:
    description: The database the dumps are of (the sidecars name it; the scratch databases are named after it).
    type: str
    required: true
  origin:
    description:
      - Where the files of O(src) were fetched from (an C(s3://bucket/prefix)), recorded in each sidecar's
        C(imported_from) before the file's name.
    type: str
  source_times:
    description:
      - The time each file of O(src) was kept with at its origin (its name, an ISO 8601 time), taken as the
        backup's time for a dump whose archive does not say (C(created_at_from) C(origin)) rather than the
        fetched file's modification time.
    type: dict
    default: {}
  timeout:
    description: Seconds for each call into the container.
    type: float
    default: 1800
"""

EXAMPLES = r"""
- name: Import the backup service's nightly dumps
  runbook.rollback.db_backup_import:
    src: /var/backups/postgres
    dir: /var/lib/runbook-rollback/backups
    compose_argv: "{{ rollback_compose_argv }}"
    service: db
    database: app_db
  register: imported
"""

RETURN = r"""
backups:
  description: The sidecar of each source's backup, in the sources' order (imported now or before).
  returned: always
  type: list
  elements: dict
imported:
  description: The sources imported by this run (file names, under O(origin) when given).
  returned: always
  type: list
  elements: str
skipped:
  description: The sources imported before (same sha256), with the backup made of them.
  returned: always
  type: list
  elements: dict
  sample: [{source: nightly-2026-11-30.sql.gz, id: 20261130T020000Z-imported-nightly-2026-11-30}]
"""

import os
import subprocess

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.backup import BackupError, Compose, compose_options
from ansible_collections.runbook.rollback.plugins.module_utils.backup_import import (
    SUFFIXES,
    check_source,
    import_dump,
    origin_name,
    parse_time,
    sources_in,
)
from ansible_collections.runbook.rollback.plugins.module_utils.restore import check_db_name


def main():
    module = AnsibleModule(
        argument_spec=dict(
            **compose_options(required=False),
            src=dict(type="path", required=True),
            dir=dict(type="path", required=True),
            database=dict(type="str", required=True),
            origin=dict(type="str"),
            source_times=dict(type="dict", default={}),
            timeout=dict(type="float", default=1800),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["compose_argv"]:
        module.fail_json(msg="compose_argv is required: the docker compose command line of the project")
    try:
        if os.path.isdir(p["src"]):
            sources = sources_in(p["src"])
        elif os.path.isfile(p["src"]):
            sources = [p["src"]]
        else:
            raise BackupError("no dump %s to import" % p["src"])
        if not sources:
            raise BackupError("no dump in %s (files ending %s)" % (p["src"], ", ".join(SUFFIXES)))
        check_db_name(p["database"])
        if module.check_mode:
            # Every source read through (whole, and nothing in it acting outside its database); nothing loaded.
            for source in sources:
                check_source(source)
            module.exit_json(changed=True, backups=[], imported=[origin_name(p["origin"], s) for s in sources],
                             skipped=[])  # fmt: skip
        compose = Compose(p["compose_argv"], p["service"], p["compose_env"], timeout=p["timeout"],
                          db_user=p["db_user"])  # fmt: skip
        backups, imported, skipped = [], [], []
        for source in sources:
            name = origin_name(p["origin"], source)
            when = parse_time(p["source_times"].get(os.path.basename(source)))
            meta, made = import_dump(compose, p["dir"], p["database"], source, p["origin"], when)
            backups.append(meta)
            if made:
                imported.append(name)
            else:
                skipped.append({"source": name, "id": meta["id"]})
        module.exit_json(changed=bool(imported), backups=backups, imported=imported, skipped=skipped)
    except BackupError as exc:
        module.fail_json(msg=str(exc))
    except subprocess.TimeoutExpired:
        module.fail_json(msg="importing %s: a call took longer than timeout (%s s)" % (p["src"], p["timeout"]))
    except OSError as exc:
        module.fail_json(msg="importing %s failed: %s" % (p["src"], exc.strerror or exc))


if __name__ == "__main__":
    main()
