"""meta/runtime.yml's action groups name exactly the modules that share the group's options (doc fragments
runbook.rollback.compose and runbook.rollback.http), so that module_defaults for a group reach each of them."""

from __future__ import annotations

import yaml

from ansible_collections.runbook.rollback.tests.unit.support import REPO_ROOT, plugin_docs

FRAGMENT = {"compose": "runbook.rollback.compose", "http": "runbook.rollback.tls"}


def modules_with_fragment(fragment):
    found = set()
    for path in (REPO_ROOT / "plugins" / "modules").glob("*.py"):
        doc = plugin_docs(path)["DOCUMENTATION"]
        if fragment in (yaml.safe_load(doc).get("extends_documentation_fragment") or []):
            found.add(path.stem)
    return found


def test_each_group_names_every_module_with_its_options_and_no_other():
    groups = yaml.safe_load((REPO_ROOT / "meta" / "runtime.yml").read_text())["action_groups"]
    assert set(groups) == set(FRAGMENT)
    for group, fragment in FRAGMENT.items():
        assert set(groups[group]) == modules_with_fragment(fragment), group
