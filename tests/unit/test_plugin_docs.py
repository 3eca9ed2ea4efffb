"""Every plugin's documentation parses (ansible-doc shows nothing for a module whose YAML does not, and
Galaxy's documentation is built from it)."""

from __future__ import annotations

import ast

import pytest
import yaml
from conftest import REPO_ROOT

KINDS = ("modules", "callback", "action", "filter", "test", "lookup")
PYTHON_PLUGINS = sorted(p for kind in KINDS for p in (REPO_ROOT / "plugins" / kind).glob("*.py"))
YAML_DOCS = sorted(p for kind in ("filter", "test") for p in (REPO_ROOT / "plugins" / kind).glob("*.yml"))


def doc_strings(path):
    tree = ast.parse(path.read_text())
    return {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN") and isinstance(node.value, ast.Constant)
    }  # fmt: skip


@pytest.mark.parametrize("path", PYTHON_PLUGINS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_python_plugin_documentation_is_yaml(path):
    docs = doc_strings(path)
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
