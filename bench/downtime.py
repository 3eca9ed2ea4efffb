#!/usr/bin/env python3
"""Downtime of Procedure A as users see it: side by side replacement (default), plain replacement and stop_mode=full.

A staging stack of its own is put on the broken release, then rolled back with traffic flowing,
once per mode and round. Prints figures; asserts nothing. `make bench` runs it.

"Unreachable" counts only requests that got no answer from the application: connection errors,
timeouts and the gateway's 502/503/504. The broken release's own HTTP 500s are an answer, and are
reported apart.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The benchmark reuses the integration tests' stack and the traffic generator's downtime arithmetic.
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "demo")]

from stack import Stack
from traffic import downtime

UNREACHABLE = {"connection error", "timeout", 502, 503, 504}


# Each mode's extra arguments: the default replaces side by side, "plain" recreates each service in place, "full"
# stops everything first.
MODES = {
    "side_by_side": [],
    "plain": ["-e", "rollback_replace=plain"],
    "full": ["-e", "stop_mode=full"],
}


def rollback_with_traffic(stack: Stack, mode: str) -> dict:
    if stack.get("/health")[1].get("version") != "v1.2.4":
        stack.playbook("deploy", version="v1.2.4")  # fails verification, as it should
    out = stack.root / f"traffic-{mode}-{uuid.uuid4().hex[:6]}.json"
    traffic = subprocess.Popen(
        [sys.executable, str(ROOT / "demo" / "traffic.py"), "--url", f"http://127.0.0.1:{stack.port}",
         "--duration", "600", "--rate", "40", "--out", str(out)],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(2)  # baseline traffic before the rollback starts
    started = time.monotonic()
    incident = f"bench-{mode}-{uuid.uuid4().hex[:6]}"
    run = stack.playbook("procedure_a", *MODES[mode], version="v1.2.3", incident=incident)
    seconds = time.monotonic() - started
    time.sleep(2)  # and after it ends, so that recovery is in the samples
    traffic.send_signal(signal.SIGTERM)
    traffic.wait(timeout=60)
    result = json.loads(out.read_text())
    samples = result["samples"]
    total, longest = downtime([(s["t"], s["status"] in UNREACHABLE) for s in samples])
    report = stack.state_dir / "incidents" / incident / "report.json"
    users = (json.loads(report.read_text()).get("users") if report.exists() else None) or {}
    return {
        "mode": mode,
        "rc": run.rc,
        "procedure_s": seconds,
        "requests": len(samples),
        "unreachable": sum(s["status"] in UNREACHABLE for s in samples),
        "unreachable_s": total,
        "longest_s": longest,
        "http500": sum(s["status"] == 500 for s in samples),
        # What the run's own probe saw (the report's "users without an answer").
        "probe_s": users.get("without_answer_seconds"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rollbacks per mode (default 2)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="rbbench-"))
    stack = Stack(root, f"rbbench{uuid.uuid4().hex[:6]}", echo=False)
    rows = []
    try:
        if stack.playbook("deploy", version="v1.2.3").rc != 0:
            print("bench: could not deploy v1.2.3", file=sys.stderr)
            return 1
        for _ in range(args.rounds):
            for mode in MODES:
                rows.append(rollback_with_traffic(stack, mode))
    finally:
        stack.destroy()
        shutil.rmtree(root, ignore_errors=True)

    print("\nProcedure A, v1.2.4 -> v1.2.3, traffic at 40 requests/s through the gateway")
    print(f"{'mode':<14}{'rc':>4}{'procedure':>11}{'requests':>10}{'no answer':>11}"
          f"{'unreachable':>13}{'longest':>9}{'HTTP 500':>10}{'probe saw':>11}")
    for r in rows:
        probe = f"{r['probe_s']:>10.2f}s" if r["probe_s"] is not None else f"{'-':>11}"
        print(f"{r['mode']:<14}{r['rc']:>4}{r['procedure_s']:>10.1f}s{r['requests']:>10}{r['unreachable']:>11}"
              f"{r['unreachable_s']:>12.2f}s{r['longest_s']:>8.2f}s{r['http500']:>10}{probe}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
