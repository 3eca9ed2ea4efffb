# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The compose project a module runs `docker compose` against (argument spec: module_utils/backup.py
    # compose_options).
    DOCUMENTATION = r"""
options:
  compose_argv:
    description: The C(docker compose) command line of the project (argv), for example the collection's
      C(rollback_compose_argv).
    type: list
    elements: str
  compose_env:
    description: Environment for the docker compose calls.
    type: dict
    default: {}
"""

    # Modules that run their SQL inside the database's container.
    DATABASE = r"""
options:
  service:
    description: The compose service running PostgreSQL.
    type: str
    default: postgres
  db_user:
    description:
      - The database role the PostgreSQL tools (C(psql), C(pg_dump), C(pg_restore)) connect as, given to them as
        C(PGUSER) in the container.
      - Empty uses the container's own C(PGUSER); when C(docker exec) runs as root (as in the official postgres
        image, where root is no database role), its C(POSTGRES_USER), else C(postgres); otherwise the user the
        container runs as.
    type: str
    default: ""
"""
