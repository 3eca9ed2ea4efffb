#!/usr/bin/env python3
"""`make demo`: the local staging stack meets a broken release; the metrics say roll back; Procedure A does.

Runs the collection's own playbooks against inventory/local through ansible-runner (the engine AWX runs
every job with; the output on the terminal, the decision read from the assess run's artifacts), with user
traffic flowing through the gateway the whole time, then prints what an on-call engineer wants to know: which versions
ran, what the decision was and why, how long each runbook step took, and how much downtime the
traffic saw. The local staging inventory assesses at drill scale (a runbook minute is a second).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import ansible_runner

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / ".demo"
GATEWAY = "http://127.0.0.1:18080"
GOOD, BROKEN = "v1.2.3", "v1.2.4"
PROJECT = "mysaas-staging"
PROMETHEUS = "http://127.0.0.1:19090"
# The staging stack's monitoring, a compose project of its own beside the app's (demo/monitoring/compose.yml).
MONITORING = ["docker", "compose", "-p", f"{PROJECT}-monitoring",
              "-f", str(ROOT / "demo" / "monitoring" / "compose.yml")]  # fmt: skip


def banner(text: str) -> None:
    print(f"\n\033[1m=== {text}\033[0m", flush=True)


def playbook(name: str, *args: str, step: str) -> tuple[int, float, dict, dict]:
    """Run a playbook through ansible_runner.run with its output on the terminal, as `ansible-playbook` would
    show it; return rc, seconds, its timeline and its artifacts (set_stats, from the run's stats event)."""
    timeline_dir = DEMO / "timelines" / step
    path = name if name.endswith(".yml") else f"playbooks/{name}.yml"
    print("$ " + shlex.join(["ansible-playbook", path, *args]), flush=True)
    private = tempfile.mkdtemp(prefix="runbook-demo-")
    started = time.monotonic()
    try:
        runner = ansible_runner.run(
            private_data_dir=private, project_dir=str(ROOT), playbook=path, cmdline=shlex.join(args) if args else None,
            envvars={"RUNBOOK_TIMELINE_DIR": str(timeline_dir), "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
                     "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}"},
            suppress_env_files=True,
        )  # fmt: skip
        stats = [e for e in runner.events if e.get("event") == "playbook_on_stats"]
    finally:
        shutil.rmtree(private, ignore_errors=True)
    elapsed = time.monotonic() - started
    latest = timeline_dir / "latest.json"
    artifacts = (stats[-1]["event_data"].get("artifact_data") or {}) if stats else {}
    return runner.rc, elapsed, json.loads(latest.read_text()) if latest.exists() else {}, artifacts


def start_monitoring() -> bool:
    """Prometheus and the exporters beside the app, once its network and database volume exist; True once
    Prometheus has scraped every target."""
    env = {**os.environ, "APP_PROJECT": PROJECT}
    up = subprocess.run([*MONITORING, "up", "--detach", "--wait"], env=env, capture_output=True, text=True, check=False)
    if up.returncode != 0:
        print(up.stderr[-2000:], file=sys.stderr)
        return False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{PROMETHEUS}/api/v1/targets?state=active", timeout=2) as resp:  # noqa: S310
                targets = json.loads(resp.read())["data"]["activeTargets"]
            if targets and all(t["health"] == "up" for t in targets):
                print(f"--> Prometheus at {PROMETHEUS} scrapes {len(targets)} targets every second")
                return True
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(1)
    return False


class Traffic:
    """The bounded traffic generator, in the background while a playbook runs."""

    def __init__(self, name: str):
        self.out = DEMO / f"traffic-{name}.json"
        self.out.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "demo" / "traffic.py"), "--url", GATEWAY, "--duration", "900",
             "--rate", "20", "--out", str(self.out)],
            cwd=ROOT, stdout=subprocess.DEVNULL,
        )
        time.sleep(2)  # a couple of seconds of baseline traffic before the change

    def stop(self) -> dict:
        time.sleep(2)  # and a couple after it, so recovery shows in the figures
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        return json.loads(self.out.read_text()) if self.out.exists() else {}


def steps_table(timeline: dict) -> list[str]:
    return [f"    {s['name']:<16}{s['duration']:>7.1f} s  {s['status']}" for s in timeline.get("steps", [])]


def traffic_line(result: dict) -> str:
    if not result:
        return "no traffic figures"
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(result.get("errors_by_kind", {}).items()))
    return (
        f"{result['requests']} requests, {result['failed']} failed ({result['error_rate']:.1f} %: {kinds or 'none'}); "
        f"failing {result['unavailable_seconds']:.2f} s in total, longest run of failures "
        f"{result['longest_outage_seconds']:.2f} s"
    )


def main() -> int:
    DEMO.mkdir(exist_ok=True)

    banner(f"1/5 Deploy the good release {GOOD} on the local staging stack, and its monitoring")
    # The staging app's repository and its release tags, made once (a team's app has its own).
    rc, *_ = playbook("demo/staging.yml", step="staging")
    if rc != 0:
        print(f"demo: the staging app's repository could not be made (exit {rc})", file=sys.stderr)
        return 1
    rc, *_ = playbook("deploy", "-e", f"version={GOOD}", step="deploy-good")
    if rc != 0:
        print(f"demo: deploying {GOOD} failed (exit {rc}); see the output above", file=sys.stderr)
        return 1
    if not start_monitoring():
        print("demo: the staging monitoring did not come up; see the output above", file=sys.stderr)
        return 1

    banner(f"2/5 Deploy the broken release {BROKEN} with traffic flowing; verification must fail")
    traffic = Traffic("deploy-broken")
    rc, *_ = playbook("deploy", "-e", f"version={BROKEN}", step="deploy-broken")
    broken_traffic = traffic.stop()
    if rc == 0:
        print(f"demo: {BROKEN} passed verification, but it should not have", file=sys.stderr)
        return 1
    print(f"--> {BROKEN} failed verification, as it should (exit {rc}); traffic: {traffic_line(broken_traffic)}")

    banner("3/5 Assess under traffic: the decision matrix on the figures Prometheus recorded")
    incident = time.strftime("demo-%Y%m%dT%H%M%SZ", time.gmtime())
    traffic = Traffic("assess")
    rc, _, _, artifacts = playbook("assess", "-e", f"incident={incident}", step="assess")
    traffic.stop()
    # The decision as the assess run hands it on (its set_stats artifacts, as AWX's workflow hands it to the
    # next job), for the one host of inventory/local.
    decision = next(iter((artifacts.get("rollback_assessed") or {}).values()), None)
    if rc != 0 or not decision:
        print(f"demo: the assessment failed (exit {rc}); see the output above", file=sys.stderr)
        return 1
    decision_file = Path(decision["record"])
    print(f"--> {decision['summary']}")
    if (decision["decision"], decision["procedure"]) != ("rollback_now", "A"):
        print("demo: expected the decision rollback_now with Procedure A", file=sys.stderr)
        return 1

    banner("4/5 Procedure A, with no version: the history names the last known good release")
    traffic = Traffic("rollback")
    # The same incident: its report carries the assessment's decision, triggers and metric samples.
    rc, seconds, timeline, _ = playbook("procedure_a", "-e", f"incident={incident}", step="procedure-a")
    rollback_traffic = traffic.stop()
    if rc != 0:
        print(f"demo: Procedure A failed (exit {rc}); see the output above", file=sys.stderr)
        return 1

    banner("5/5 Verify the running stack on its own")
    rc_verify, *_ = playbook("verify", "-e", f"version={GOOD}", step="verify")

    history = [json.loads(line) for line in (DEMO / "state" / "deployments.jsonl").read_text().splitlines()]
    banner("Summary")
    print(f"  versions:   {GOOD} (good) -> {BROKEN} (broken, failed verification) -> "
          f"{history[-1]['version']} (Procedure A, {history[-1]['result']})")
    print(f"  decision:   {decision['summary']}")
    print(f"              recorded in {decision_file.relative_to(ROOT)}")
    print(f"  Procedure A took {seconds:.1f} s end to end (runbook budget: 5-10 min); per step:")
    print("\n".join(steps_table(timeline)))
    print(f"  traffic during the broken deploy: {traffic_line(broken_traffic)}")
    print(f"  traffic during the rollback:      {traffic_line(rollback_traffic)}")
    print(f"  final verification: {'passed' if rc_verify == 0 else 'FAILED'}")
    report = DEMO / "state" / "incidents" / incident
    print(f"  incident report: {(report / 'report.html').relative_to(ROOT)} (and report.md, postmortem.md)")
    print("  next: . .venv/bin/activate && ansible-playbook playbooks/deploy.yml -e version=v1.2.4")
    return 0 if rc_verify == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
