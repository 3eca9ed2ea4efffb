"""The staging stack's monitoring (demo/monitoring/compose.yml: Prometheus, the node and PostgreSQL exporters) beside
a test's stack, as a compose project of its own, and a small client of Prometheus' HTTP API."""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from stack import REPO, free_port

COMPOSE_FILE = REPO / "demo" / "monitoring" / "compose.yml"
PROMETHEUS_IMAGE = os.environ.get("RUNBOOK_PROMETHEUS_IMAGE", "runbook-rollback/prometheus:bookworm")
# Prometheus' scrape jobs, each with the targets it must see up.
JOBS = {"gateway": 1, "services": 6, "node": 1, "postgres": 1}


def poll(what, check, timeout, interval=0.5):
    """check() until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Prometheus:
    def __init__(self, url):
        self.url = url

    def api(self, path, **params):
        url = f"{self.url}{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - 127.0.0.1 only
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def ready(self):
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:  # noqa: S310
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def targets_up(self):
        """Job -> how many of its targets are up."""
        body = self.api("/api/v1/targets")
        up = {}
        for target in (body or {}).get("data", {}).get("activeTargets", []):
            job = target["labels"]["job"]
            up[job] = up.get(job, 0) + (target["health"] == "up")
        return up

    def value(self, query):
        """The value of an instant query returning one series, or None."""
        body = self.api("/api/v1/query", query=query)
        result = (body or {}).get("data", {}).get("result", [])
        if len(result) != 1:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) else value  # NaN: no requests in the window yet


@contextmanager
def monitoring(stack, alert_rules: Path | None = None):
    """The monitoring project of `stack`, started once the stack runs and taken down (never the app's network nor
    its volume) on exit; yields a Prometheus client once every scrape target is up."""
    project = f"{stack.project}-monitoring"
    env = {
        **os.environ,
        "APP_PROJECT": stack.project,
        "POSTGRES_PASSWORD": stack.db_password,
        "PROMETHEUS_PORT": str(free_port()),
        "PROMETHEUS_IMAGE": PROMETHEUS_IMAGE,
    }
    if alert_rules is not None:
        env["ALERT_RULES"] = str(alert_rules)

    def compose(*args, check=True):
        cmd = ["docker", "compose", "-p", project, "-f", str(COMPOSE_FILE), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"docker compose {args[0]} of {project} failed: {proc.stderr.strip()[-2000:]}")
        return proc

    try:
        compose("up", "--detach", "--wait", "--wait-timeout", "120")
        prom = Prometheus(f"http://127.0.0.1:{env['PROMETHEUS_PORT']}")
        poll("Prometheus to be ready", prom.ready, timeout=60)
        poll("every scrape target to be up", lambda: prom.targets_up() == JOBS, timeout=60)
        yield prom
    finally:
        logs = compose("logs", "--tail", "15", "--no-color", check=False)
        print(logs.stdout[-4000:])
        compose("down", "--volumes", "--timeout", "5", check=False)
