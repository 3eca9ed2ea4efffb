"""Every plugin's documentation parses (ansible-doc shows nothing for a module whose YAML does not, and
Galaxy's documentation is built from it)."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from ansible_collections.runbook.rollback.tests.unit.support import REPO_ROOT, VENV_BIN, ansible_env, plugin_docs

KINDS = ("modules", "callback", "action", "filter", "test", "lookup")
PYTHON_PLUGINS = sorted(p for kind in KINDS for p in (REPO_ROOT / "plugins" / kind).glob("*.py"))
YAML_DOCS = sorted(p for kind in ("filter", "test") for p in (REPO_ROOT / "plugins" / kind).glob("*.yml"))


@pytest.mark.parametrize("path", PYTHON_PLUGINS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_python_plugin_documentation_is_yaml(path):
    docs = plugin_docs(path)
    if path.parent.name == "modules":
        assert set(docs) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    for name, text in docs.items():
        parsed = yaml.safe_load(text)
        if name == "DOCUMENTATION":
            assert isinstance(parsed, dict) and parsed.get("short_description"), path


@pytest.mark.parametrize("path", YAML_DOCS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_filter_and_test_documentation_is_yaml(path):
    parsed = yaml.safe_load(path.read_text())
    assert parsed["DOCUMENTATION"]["short_description"], path


@pytest.mark.functional
def test_ansible_doc_renders_every_module_with_its_fragments():
    # A fragment that does not exist (for example another collection's) is only found when the docs are
    # rendered: ansible-doc, Galaxy and ansible-test's validate-modules all fail on it.
    modules = sorted("runbook.rollback." + p.stem for p in (REPO_ROOT / "plugins" / "modules").glob("*.py"))
    proc = subprocess.run([str(VENV_BIN / "ansible-doc"), "--json", "-t", "module", *modules],
                          capture_output=True, text=True, env=ansible_env(), timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rendered = json.loads(proc.stdout)
    assert sorted(rendered) == modules
    assert all(doc["doc"]["short_description"] for doc in rendered.values())
