"""The decision's words as the roles spell them: every list of decisions in a task file is the decision module's
(plugins/module_utils/decision.py), so that a decision added or renamed there cannot be refused, or let through,
by a task file that still spells the old ones."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def decision_module_words() -> tuple[set[str], set[str]]:
    """(every decision, the decisions that roll back), read from decision.py's DECISIONS and ROLLBACK_DECISIONS."""
    tree = ast.parse((REPO / "plugins" / "module_utils" / "decision.py").read_text())
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("DECISIONS", "ROLLBACK_DECISIONS"):
                values[node.targets[0].id] = ast.literal_eval(node.value)
    return {decision for decision, _minutes in values["DECISIONS"].values()}, set(values["ROLLBACK_DECISIONS"])


# A Jinja list of quoted words holding 'rollback_now': a list of decisions.
DECISION_LIST = re.compile(r"\[((?:\s*'[a-z_]+'\s*,?)*'rollback_now'(?:\s*,?\s*'[a-z_]+')*)\s*\]")


def test_every_list_of_decisions_in_the_roles_is_the_decision_modules():
    every, rolling_back = decision_module_words()
    assert rolling_back < every
    found = 0
    for path in sorted(REPO.glob("roles/*/tasks/*.yml")) + sorted(REPO.glob("playbooks/*.yml")):
        for match in DECISION_LIST.finditer(path.read_text()):
            words = set(re.findall(r"'([a-z_]+)'", match.group(1)))
            assert words in (every, rolling_back), (path.name, sorted(words))
            found += 1
    # auto.yml's check of a handed-on decision and its two branches.
    assert found >= 3, found
