"""prometheus_samples against a real Prometheus scraping the real staging stack under traffic.

The broken release v1.2.4 is deployed, the staging monitoring (demo/monitoring: Prometheus and the exporters,
from the offline image `make setup` builds) scrapes it every second from its own compose project on the
stack's network, demo/traffic.py drives user traffic, and the module, run by ansible, must see the chat-service
failures in its samples; the decision matrix's alerts fire and, through the rulebook, become a decision.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from monitoring import PROMETHEUS_IMAGE, monitoring, poll
from stack import REPO, free_port

RULES = REPO / "extensions" / "prometheus"
STAGING_RULES = REPO / "demo" / "prometheus" / "staging-recording.yml"
# The staging inventory's queries: the series the staging monitoring records (demo/prometheus/staging-recording.yml).
QUERIES = {f: f"runbook_rollback:{f}" for f in ("error_rate", "critical_error_rate", "p95_ms", "p50_ms")}


def docker(*args, check=True):
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {args[0]} failed: {proc.stderr.strip()}")
    return proc


def promtool(*args: str) -> subprocess.CompletedProcess:
    """promtool of the Prometheus image, in a container that sees the rules and their tests read-only."""
    return docker("run", "--rm", "--network", "none", "--entrypoint", "promtool",
                  "--volume", f"{RULES}:/x/extensions/prometheus:ro",
                  "--volume", f"{STAGING_RULES.parent}:/x/demo/prometheus:ro",
                  "--volume", f"{REPO / 'tests' / 'prometheus'}:/x/tests/prometheus:ro",
                  "--workdir", "/x/tests/prometheus", PROMETHEUS_IMAGE, *args, check=False)  # fmt: skip


def test_the_shipped_rules_fire_as_the_decision_matrix_says():
    """promtool checks the shipped files and runs their unit tests: each alert at the matrix's window."""
    checked = promtool("check", "rules", "/x/extensions/prometheus/runbook-rollback-rules.yml",
                       "/x/demo/prometheus/staging-recording.yml")  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 24 rules found" in checked.stdout and "SUCCESS: 15 rules found" in checked.stdout, checked.stdout
    tested = promtool("test", "rules", "decision-matrix.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


@pytest.fixture(scope="module")
def broken_stack(stack):
    # v1.2.4 fails its verification by design; what matters here is that it serves.
    stack.seed("v1.2.4", result="failed")
    status, health = stack.get("/health")
    assert (status, health.get("version")) == (200, "v1.2.4")
    return stack


@pytest.fixture(scope="module")
def prometheus(broken_stack):
    """The staging monitoring (demo/monitoring) beside the broken stack, with the decision matrix's alerts written
    by the collection's playbook with every window a fiftieth of the runbook's (its 5 minutes: 6 s), as a drill
    shortens them."""
    # Under the stack's directory: removed with it, whatever happens before this fixture's own cleanup.
    rules = Path(tempfile.mkdtemp(prefix="alert-rules-", dir=broken_stack.root))
    run = broken_stack.playbook("alert_rules", dest=str(rules / "matrix.yml"), window_scale=0.02)
    assert run.rc == 0, run.output
    for path in (rules, *rules.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)  # read by the image's unprivileged prometheus user
    with monitoring(broken_stack, alert_rules=rules) as prom:
        yield prom


@pytest.fixture(scope="module")
def traffic(broken_stack, prometheus):
    """40 requests/s for 25 s through the gateway; returns (start, end, summary) once it is over."""
    out = broken_stack.root / "traffic.json"
    argv = [
        sys.executable, str(REPO / "demo" / "traffic.py"), "--url", f"http://127.0.0.1:{broken_stack.port}",
        "--rate", "40", "--duration", "25", "--workers", "4", "--max-requests", "2000", "--out", str(out),
    ]  # fmt: skip
    started = time.time()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Data, while the traffic still runs: the error ratio has a value once 5xx answers were scraped.
        poll(
            "Prometheus to see gateway errors",
            lambda: proc.poll() is None and (prometheus.value(QUERIES["error_rate"]) or 0) > 0,
            timeout=30,
        )
        stdout, stderr = proc.communicate(timeout=90)
        ended = time.time()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
    assert proc.returncode == 0, stderr
    # The last counters must be scraped before the module reads up to `ended`.
    poll(
        "a scrape after the traffic ended",
        lambda: (prometheus.value('max(timestamp(up{job="gateway"}))') or 0) > ended + 1,
        timeout=30,
        interval=0.2,
    )
    return started, ended, json.loads(stdout.strip().splitlines()[-1])


def test_samples_show_the_broken_release(broken_stack, prometheus, traffic):
    started, ended, client = traffic
    args = {"url": prometheus.url, "queries": QUERIES, "end": ended, "duration": ended - started, "step": 1}
    rc, res = broken_stack.module("prometheus_samples", args)
    assert rc == 0, res
    assert res["changed"] is False
    samples = res["samples"]
    print("traffic (client side):", json.dumps(client))
    print("samples:", json.dumps(samples[-3:]), "points:", res["series_points"])

    assert [s["ts"] for s in samples] == sorted(s["ts"] for s in samples)
    assert all(started - 1 <= s["ts"] <= ended + 1 for s in samples)
    assert res["series_points"]["error_rate"] >= 10
    last = samples[-1]
    # chat-service v1.2.4 fails every second message sent: about a fifth of all API requests.
    assert last["error_rate"] > 10, last
    assert last["critical_error_rate"] > 1, last
    assert last["p95_ms"] > 0 and last["p50_ms"] > 0, last
    error_rates = sorted(s["error_rate"] for s in samples if "error_rate" in s)
    assert error_rates[len(error_rates) // 2] > 10, error_rates
    assert all(0 <= r <= 100 for r in error_rates)


@pytest.mark.fault(
    "Prometheus unreachable",
    how="a closed port as rollback_prometheus_url",
    holds="assess fails in one line, nothing changed",
)
def test_unreachable_prometheus_fails_with_one_line(stack):
    closed = f"http://127.0.0.1:{free_port()}"
    rc, res = stack.module("prometheus_samples", {"url": closed, "queries": QUERIES, "timeout": 3})
    assert rc != 0
    assert res["failed"] is True
    assert "\n" not in res["msg"]
    expected = f"Prometheus at {closed}: unreachable (connection refused) on the query for error_rate ("
    assert res["msg"].startswith(expected), res["msg"]


def test_assess_from_prometheus_decides_procedure_a(broken_stack, prometheus, traffic):
    """assess.yml with source=prometheus: history comes from Prometheus at once, health is probed."""
    assert traffic  # it has run: Prometheus holds the broken release's figures
    # The last 20 s of that traffic, recorded through rate()[1m], are still in Prometheus' answer now.
    run = broken_stack.playbook(
        "assess", source="prometheus", rollback_prometheus_url=prometheus.url, duration=20, interval=1,
        window_scale=0.0167, incident="t-prometheus",
    )  # fmt: skip
    assert run.rc == 0, run.output
    decision = broken_stack.decision("t-prometheus")
    assert decision["inputs"]["source"] == "prometheus"
    assert (decision["priority"], decision["decision"], decision["procedure"]) == ("critical", "rollback_now", "A")
    assert {"error_rate_critical", "critical_endpoint_errors"} <= {t["id"] for t in decision["triggers"]}
    assert len(decision["inputs"]["services"]) == 7


def test_the_broken_release_fires_the_matrix_alerts(broken_stack, prometheus, traffic):
    """The staging figures, recorded from the gateway's metrics, fire the decision matrix's error-rate alerts."""
    query = 'max_over_time(ALERTS{alertstate="firing", alertname=~"RunbookRollback.*"}[5m])'
    fired = poll(
        "an alert of the decision matrix to fire",
        lambda: ((prometheus.api("/api/v1/query", query=query) or {}).get("data") or {}).get("result"),
        timeout=30,
    )
    rules = {r["metric"].get("runbook_rule"): r["metric"] for r in fired}
    error_rules = {"error_rate_critical", "error_rate_elevated", "error_rate_high", "critical_endpoint_errors",
                   "matrix_error_rate_critical", "matrix_error_rate_high", "matrix_error_rate_medium"}  # fmt: skip
    assert rules.keys() & error_rules, rules
    for labels in rules.values():
        assert labels["severity"] in ("critical", "high", "medium", "low"), labels
        assert labels["runbook_decision"] in ("rollback_now", "rollback", "investigate", "fix_forward"), labels


def alertmanager_notification(alerts: list[dict]) -> dict:
    """What Alertmanager's webhook receiver posts for these firing alerts of Prometheus's API (version 4)."""
    out = []
    for alert in alerts:
        labels = alert["labels"]
        fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
        out.append({"status": "firing", "labels": labels, "annotations": alert.get("annotations", {}),
                    "startsAt": alert.get("activeAt"), "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph", "fingerprint": fingerprint})  # fmt: skip
    return {"version": "4", "groupKey": '{}:{alertname=~"RunbookRollback.*"}', "status": "firing",
            "receiver": "runbook-rollback", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093", "truncatedAlerts": 0, "alerts": out}  # fmt: skip


def post(url: str, body: dict) -> int:
    data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - 127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 - 127.0.0.1 only
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return -1


def test_an_alert_through_the_rulebook_becomes_a_decision(broken_stack, prometheus, traffic):
    """ansible-rulebook with the collection's rulebook and source receives Alertmanager's notification of the
    firing alerts, runs the assessment once for the incident (a repeat and a second alert are throttled), and the
    assessment writes decision.json."""
    firing = poll(
        "firing alerts of the decision matrix",
        lambda: [a for a in ((prometheus.api("/api/v1/alerts") or {}).get("data") or {}).get("alerts", [])
                 if a["labels"].get("alertname", "").startswith("RunbookRollback") and a["state"] == "firing"],
        timeout=30,
    )  # fmt: skip
    port = free_port()
    group_vars = broken_stack.inventory / "group_vars" / "rollback_targets.yml"
    kept = group_vars.read_text()
    broken_stack.write_group_vars(rollback_assess_source="app", rollback_assess_duration=3,
                                  rollback_assess_interval=1)  # fmt: skip
    cmd, env = broken_stack._playbook_command("assess", (), {})
    rulebook = REPO / "extensions" / "eda" / "rulebooks" / "assess_on_alert.yml"
    cmd = [str(Path(cmd[0]).parent / "ansible-rulebook"), "-r", str(rulebook), *broken_stack._inventories()[:2],
           "--vars", str(broken_stack.root / "eda-vars.yml"), "--print-events"]  # fmt: skip
    (broken_stack.root / "eda-vars.yml").write_text(f"alertmanager_port: {port}\n")
    if not env.get("JAVA_HOME") and shutil.which("java"):
        env["JAVA_HOME"] = str(Path(shutil.which("java")).resolve().parent.parent)  # the JRE make setup installs
    # No /tmp/hsperfdata_<user> left behind by the rulebook's JVM.
    env["JAVA_TOOL_OPTIONS"] = (env.get("JAVA_TOOL_OPTIONS", "") + " -XX:-UsePerfData").strip()
    log = broken_stack.root / "eda.log"
    incidents = broken_stack.state_dir / "incidents"
    before = {p.name for p in incidents.iterdir()} if incidents.is_dir() else set()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/alerts"
        note = alertmanager_notification(firing)
        first = note["alerts"][0]
        poll("the rulebook's source to listen", lambda: post(url, dict(note, alerts=[first])) == 202, timeout=90)
        # Alertmanager repeats the notification, and the incident's other alerts follow: no second assessment.
        assert post(url, note) == 202
        assert post(url, {"not": "alertmanager"}) == 400
        decision = incidents / f"alert-{first['fingerprint']}" / "decision.json"
        poll("decision.json from the assessment the alert started", decision.exists, timeout=180, interval=1)
        poll("the assessment's playbook to end", lambda: "PLAY RECAP" in log.read_text(), timeout=60)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        group_vars.write_text(kept)
    record = json.loads(decision.read_text())
    assert record["incident"] == f"alert-{first['fingerprint']}"
    assert record["decision"] in ("rollback_now", "rollback", "investigate", "fix_forward", "none"), record
    after = {p.name for p in incidents.iterdir()} - before
    assert after == {f"alert-{first['fingerprint']}"}, f"more than one assessment: {after}"
    assert log.read_text().count("PLAY RECAP") == 1, log.read_text()[-3000:]
