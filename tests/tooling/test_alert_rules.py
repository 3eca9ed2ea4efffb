"""The shipped Prometheus alerting rules are the decision matrix's: generated from its table and never edited."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".collections"))

from ansible_collections.runbook.rollback.plugins.module_utils import decision


def shipped_rules() -> list[dict]:
    text = (REPO / "extensions" / "prometheus" / "runbook-rollback-rules.yml").read_text()
    return yaml.safe_load(text)["groups"][0]["rules"]


def test_the_shipped_file_is_what_the_decision_table_makes():
    proc = subprocess.run([sys.executable, "scripts/alert_rules.py", "--check"], cwd=REPO, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_rule_of_the_matrix_that_reads_a_figure_has_its_alert():
    labels = {rule["labels"]["runbook_rule"]: rule for rule in shipped_rules()}
    expected = {rule[0] for rule in decision.ABOVE_RULES}
    expected |= {"%s_%s" % (rule[0], band) for rule in decision.BAND_RULES for band, _op in decision.BAND_ORDER}
    expected |= {"stripe_broken", "disk_low", "db_connections_exhausted", "critical_service_down",
                 "non_critical_service_down"}  # fmt: skip
    # The runbook's baseline has no p50: the p50 rule has no data in an assessment, and no alert.
    assert set(labels) == expected - {"p50_critical"}
    for rule_id, priority, *_rest in decision.ABOVE_RULES:
        if rule_id == "p50_critical":
            continue
        assert labels[rule_id]["labels"]["severity"] == priority
        assert labels[rule_id]["labels"]["runbook_decision"] == decision.DECISIONS[priority][0]
    # The windows are the decision's own: 5 minutes for a 10 % error rate, 20 for 2 %.
    assert (labels["error_rate_critical"]["expr"], labels["error_rate_critical"]["for"]) == (
        "runbook_rollback:error_rate > 10", "5m")  # fmt: skip
    assert labels["error_rate_high"]["for"] == "20m" and labels["critical_service_down"]["for"] == "5m"


def test_the_awx_rulebook_launches_a_job_template_the_controller_config_defines():
    rulebook = yaml.safe_load((REPO / "extensions" / "eda" / "rulebooks" / "assess_on_alert_awx.yml").read_text())
    (rule,) = rulebook[0]["rules"]
    name = rule["action"]["run_job_template"]["name"]
    controller = (REPO / "awx" / "controller.yml").read_text()
    assert f'name: "{name}"' in controller, name
    local = yaml.safe_load((REPO / "extensions" / "eda" / "rulebooks" / "assess_on_alert.yml").read_text())
    # The same alerts, the same window, under AWX as locally.
    assert local[0]["rules"][0]["condition"] == rule["condition"]
    assert local[0]["rules"][0]["throttle"] == rule["throttle"]
    assert local[0]["rules"][0]["action"]["run_playbook"]["name"] == "runbook.rollback.assess"


def test_the_staging_stack_measures_every_figure_the_alerts_and_the_decision_read():
    """The staging monitoring records every figure of the decision (and every service's state) that the shipped
    alerts read, and the staging inventory's default queries name each of those series."""
    recording = yaml.safe_load((REPO / "demo" / "prometheus" / "staging-recording.yml").read_text())
    recorded = {rule["record"] for group in recording["groups"] for rule in group["rules"]}
    read_by_alerts = {word for rule in shipped_rules() for word in rule["expr"].split()
                      if word.startswith("runbook_rollback:")}  # fmt: skip
    read_by_alerts = {word.split("{")[0] for word in read_by_alerts}
    assert read_by_alerts <= recorded, sorted(read_by_alerts - recorded)
    inventory = yaml.safe_load((REPO / "inventory" / "staging_app" / "group_vars" / "rollback_targets.yml").read_text())
    queries = inventory["rollback_prometheus_queries"]
    assert set(queries) == set(decision.SAMPLE_METRICS), sorted(set(decision.SAMPLE_METRICS) ^ set(queries))
    assert all(queries[figure] == f"runbook_rollback:{figure}" for figure in queries), queries
    assert {f"runbook_rollback:{figure}" for figure in decision.SAMPLE_METRICS} <= recorded


def alert_rules_playbook(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), RUNBOOK_TIMELINE_DIR=str(tmp_path / "timelines"),
               ANSIBLE_NOCOLOR="1")  # fmt: skip
    return subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "playbooks/alert_rules.yml", *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=120)  # fmt: skip


def test_the_playbook_refuses_a_missing_destination_and_writes_the_shipped_rules_with_one(tmp_path):
    refused = alert_rules_playbook(tmp_path)
    assert refused.returncode != 0
    assert '"msg": "-e dest=<file> is required: where the rules file is written on the controller"' in refused.stdout

    dest = tmp_path / "rules.yml"
    written = alert_rules_playbook(tmp_path, "-e", f"dest={dest}", "-e", "window_scale=1")
    assert written.returncode == 0, written.stdout[-2000:]
    shipped = {rule["alert"]: rule for rule in shipped_rules()}
    rules = {rule["alert"]: rule for rule in yaml.safe_load(dest.read_text())["groups"][0]["rules"]}
    # The staging inventory's baseline is the runbook's: the same alerts, thresholds and windows as the shipped file.
    assert rules == shipped
