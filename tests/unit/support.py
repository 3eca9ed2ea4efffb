"""What the unit tests share: the checkout's paths, plugin docs as their source assigns them, and runs of
`ansible` and `ansible-playbook` against the collection. Imported as
ansible_collections.runbook.rollback.tests.unit.support, the same under plain pytest (tests/unit/conftest.py
makes the checkout importable under that name) and under `ansible-test units` (the collection as shipped)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

# The collection's root: the checkout, or the tree ansible-test unpacked the tarball into.
REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# The directory holding ansible_collections/runbook/rollback, as this module was imported through it
# (not resolved: the checkout's .collections links the checkout in): ANSIBLE_COLLECTIONS_PATH for ansible.
COLLECTIONS_ROOT = Path(os.path.abspath(__file__)).parents[5]


def plugin_docs(path):
    """DOCUMENTATION, EXAMPLES and RETURN of a Python plugin, as the strings its source assigns."""
    tree = ast.parse(Path(path).read_text())
    return {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN") and isinstance(node.value, ast.Constant)
    }  # fmt: skip


def ansible_env(**extra):
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_ROOT),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="0",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
        PATH="%s%s%s" % (VENV_BIN, os.pathsep, env.get("PATH", "")),
    )
    env.update(extra)
    return env


def run_refused(tmp_path, playbook, extra_vars, **host_vars):
    """Run playbooks/<playbook>.yml against a local target whose app and state directories do not exist yet
    (tmp_path/app, tmp_path/state), for a run that must be refused before it touches anything; the
    CompletedProcess (the default callback's text)."""
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"rollback_targets": {"hosts": {"target": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "rollback_app_dir": str(tmp_path / "app"), "rollback_state_dir": str(tmp_path / "state"),
        "rollback_project_name": "refused", **host_vars}}}}))  # fmt: skip
    values = tmp_path / "extra.yml"
    values.write_text(yaml.safe_dump(extra_vars))
    return subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(tmp_path / "inventory"), f"playbooks/{playbook}.yml",
         "-e", "@" + str(values)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=ansible_env(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default"), check=False,
    )  # fmt: skip


def run_module(name, args, check=False, timeout=120):
    """Run runbook.rollback.<name> through `ansible localhost` from the repo root; return its result dict."""
    argv = [str(VENV_BIN / "ansible"), "localhost", "-m", "runbook.rollback.%s" % name, "-a", json.dumps(args)]
    if check:
        argv.append("--check")
    proc = subprocess.run(argv, cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True, timeout=timeout,
                          check=False)  # fmt: skip
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("ansible output is not JSON:\n%s\n%s" % (proc.stdout, proc.stderr)) from None
    return out["plays"][0]["tasks"][0]["hosts"]["localhost"]
