#!/usr/bin/env python3
"""Write (or, with --check, compare) the collection's shipped alerting rules: the decision matrix with the
runbook's own thresholds and the baseline of roles/common/defaults (rollback_baseline).

    python3 scripts/alert_rules.py            # rewrite extensions/prometheus/runbook-rollback-rules.yml
    python3 scripts/alert_rules.py --check    # exit 1 when the shipped file differs from the decision's table
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "extensions" / "prometheus" / "runbook-rollback-rules.yml"
HEADER = """\
# Prometheus alerting rules of the runbook's decision matrix, generated from the table rollback_decision uses
# (plugins/module_utils/decision.py) by scripts/alert_rules.py: do not edit. For your own thresholds and baseline:
#   ansible-playbook playbooks/alert_rules.yml -e dest=<file>
# The alerts read runbook_rollback:<figure> series (percent, milliseconds) and runbook_rollback:service_up;
# map your metrics onto them with recording rules (the staging app's: demo/prometheus/staging-recording.yml).
"""


def rendered() -> str:
    sys.path.insert(0, str(REPO / ".collections"))
    from ansible_collections.runbook.rollback.plugins.module_utils.alert_rules import alert_rules

    defaults = yaml.safe_load((REPO / "roles" / "common" / "defaults" / "main.yml").read_text())
    rules = alert_rules(None, defaults["rollback_baseline"])
    return HEADER + yaml.dump(rules, Dumper=_Indented, sort_keys=False, width=1000, allow_unicode=True)


class _Indented(yaml.SafeDumper):
    """Lists indented under their key, as the repository's YAML is (yamllint's indentation rule)."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    text = rendered()
    if args.check:
        if not SHIPPED.exists() or SHIPPED.read_text() != text:
            print(f"{SHIPPED.relative_to(REPO)} differs from the decision's table: run python3 scripts/alert_rules.py")
            return 1
        return 0
    SHIPPED.parent.mkdir(parents=True, exist_ok=True)
    SHIPPED.write_text(text)
    print(f"wrote {SHIPPED.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
