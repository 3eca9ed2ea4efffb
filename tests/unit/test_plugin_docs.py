"""Every plugin's documentation parses (ansible-doc shows nothing for a module whose YAML does not, and
Galaxy's documentation is built from it)."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO_ROOT, plugin_docs

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
