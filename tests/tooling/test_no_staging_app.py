"""The collection's code knows no app: nothing under plugins/ or in the roles' defaults names the staging app's
API paths, request payloads, services, database, metric names or compose file. Those are the staging app's
inventory (inventory/staging_app), as any team's are theirs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGING_APP = REPO_ROOT / "inventory" / "staging_app" / "group_vars" / "rollback_targets.yml"


def staging_names() -> set[str]:
    """What only the staging app has, read from its own inventory: the fixed part of each URL path of its smoke
    steps and health endpoints, its compose services with a dash in the name (postgres or redis are anybody's),
    its request counter, its compose file and its payloads' literal values."""
    settings = yaml.safe_load(STAGING_APP.read_text())
    names = {settings["rollback_requests_counter"], *settings["rollback_compose_files"]}
    paths = [step["path"] for step in settings["rollback_smoke_steps"]]
    paths += [re.sub(r"^\{\{.*?\}\}", "", ep["url"]) for ep in settings["rollback_health_endpoints"]]
    names |= {path.split("${")[0].rstrip("/") for path in paths if path.count("/") > 1}
    names |= {svc for stage in settings["rollback_stages"] for svc in stage["services"] if "-" in svc}
    for step in settings["rollback_smoke_steps"]:
        names |= {v for v in (step.get("expect") or {}).values() if isinstance(v, str)}
        names |= {v for v in (step.get("json") or {}).values() if isinstance(v, str) and "${" not in v and " " not in v}
    return {name for name in names if len(name) > 3}


def test_the_staging_app_is_known_to_its_inventory_and_to_no_plugin_or_default():
    names = staging_names()
    # The reading above found what it looks for: a changed inventory layout must not empty the list silently.
    assert {"/api/billing/checkout", "api-gateway", "docker-compose.prod.yml"} <= names, sorted(names)
    sources = sorted(REPO_ROOT.glob("plugins/**/*.py")) + sorted(REPO_ROOT.glob("plugins/**/*.yml"))
    sources += sorted(REPO_ROOT.glob("roles/*/defaults/*.yml"))
    sources += sorted(REPO_ROOT.glob("roles/*/meta/argument_specs.yml"))
    found = [
        "%s: %s" % (path.relative_to(REPO_ROOT), name)
        for path in sources
        for name in sorted(names)
        if name in path.read_text()
    ]
    assert found == []
