"""The application database's name when rollback_db_name is empty (roles/backup/tasks/database_name.yml): the
script the task runs in the database container, run here under sh with the environments a container may have."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from ansible_collections.runbook.rollback.tests.unit.support import REPO_ROOT

TASKS = REPO_ROOT / "roles" / "backup" / "tasks" / "database_name.yml"


def the_script():
    (ask,) = [t for t in yaml.safe_load(TASKS.read_text()) if "ansible.builtin.command" in t]
    # argv: rollback_compose_argv + ['exec', '-T', service, 'sh', '-c', '<script>']
    (script,) = re.findall(r"'sh', '-c',\s*'(.*)'\]", ask["ansible.builtin.command"]["argv"], re.S)
    return script


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"POSTGRES_USER": "saas", "POSTGRES_DB": "saas_db"}, "saas_db"),
        ({"POSTGRES_USER": "app"}, "app"),  # the official image: POSTGRES_DB defaults to POSTGRES_USER
        ({}, "postgres"),
        ({"PGDATABASE": "orders", "POSTGRES_DB": "saas_db"}, "orders"),
    ],
)
def test_the_container_names_its_database_by_the_official_images_conventions(env, name):
    out = subprocess.run(["sh", "-c", the_script()], env=env, capture_output=True, text=True, check=True)
    assert out.stdout == name
