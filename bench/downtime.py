#!/usr/bin/env python3
"""What users see of a rollback, as a race: the runbook's literal commands against the procedures' ways.

    python3 bench/downtime.py [--rounds 3] [--rate 40]

One staging stack of its own, one traffic generator at --rate requests/s through the port users reach, for
every entry of the race, round after round:

  A literal       the runbook's own commands: down, git checkout, build, up the data services, sleep 30, up
                  the other stages (and the proxy, which `down` took away too)
  A full          Procedure A, stop_mode=full
  A plain         Procedure A, every service replaced the plain way (stopped, then started)
  A side_by_side  Procedure A as it runs by default
  B               Procedure B from v1.3.0 to its pre-deploy backup (the small database)
  C plain         Procedure C on v1.2.5's crash-looping billing-service, replaced the plain way
  C side_by_side  Procedure C as it runs by default

For each: the requests without an answer (connection error, timeout), those answered 5xx by the rollback
itself (502, 503, 504: the proxy's or the gateway's, not the broken release's own 500s), the longest gap
without a good answer (between two answers: a request the proxy held until the gateway came back counts as a
wait until it was answered), and the run's time; the minimum, median and maximum over the rounds, and each
median's ratio to the literal runbook's. C counts the requests of the other services only (billing's own
fail until it is back, whatever the way). The last line is the headline. Prints figures; asserts nothing.
`make bench` runs it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
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
from traffic import longest_wait

NO_ANSWER = {"connection error", "timeout"}
BY_ROLLBACK = {502, 503, 504}
# The runbook's stages (its Procedure A, step 4), with the staging proxy last: `down` stops it with the rest.
LITERAL_STAGES = (["postgres", "redis"], ["auth-service", "chat-service", "billing-service"],
                  ["analytics-service", "email-worker"], ["api-gateway", "frontend", "proxy"])  # fmt: skip


class Race:
    def __init__(self, stack: Stack, rate: float):
        self.stack = stack
        self.rate = rate

    def at(self, version: str, *extra: str, always: bool = False) -> None:
        """Put the stack on `version` (a broken one fails its verification, as it should)."""
        if always or self.stack.get("/health")[1].get("version") != version:
            self.stack.playbook("deploy", *extra, version=version, deploy_fail_on_verify=False)

    def timed(self, action, only=None) -> dict:
        """Traffic before, during and after `action`; the figures of the samples (those `only` keeps)."""
        out = self.stack.root / f"traffic-{uuid.uuid4().hex[:8]}.json"
        traffic = subprocess.Popen(
            [sys.executable, str(ROOT / "demo" / "traffic.py"), "--url", f"http://127.0.0.1:{self.stack.port}",
             "--duration", "3600", "--rate", str(self.rate), "--out", str(out)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(2)  # traffic before the rollback starts
            started = time.monotonic()
            rc = action()
            seconds = time.monotonic() - started
            self.wait_answering()
            time.sleep(2)  # and after it ends, so that recovery is in the samples
        finally:
            traffic.send_signal(signal.SIGTERM)
            traffic.wait(timeout=60)
        samples = [s for s in json.loads(out.read_text())["samples"] if only is None or only(s)]
        out.unlink()
        failed = NO_ANSWER | BY_ROLLBACK
        return {
            "rc": rc,
            "seconds": seconds,
            "requests": len(samples),
            "no_answer": sum(s["status"] in NO_ANSWER for s in samples),
            "by_rollback": sum(s["status"] in BY_ROLLBACK for s in samples),
            # Between good answers: a request the proxy held until the gateway was back waited all along.
            "longest": longest_wait(samples, lambda status: status in failed),
            # Which requests failed (flow and status), to find the replacement that cost them.
            "failed": sorted({f"{s['flow']} {s['status']}" for s in samples if s["status"] in failed}),
        }

    @staticmethod
    def said(run) -> int:
        """The run's exit code; why it failed, printed, when it did (the figures of a failed run still count)."""
        if run.rc != 0:
            print(f"  the run failed (rc {run.rc}): " + " | ".join(w[:400] for w in run.why_failed()[-3:]), flush=True)
        return run.rc

    def wait_answering(self, limit: float = 120) -> None:
        """Until the stack answers its health (the literal runbook does not wait for it)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                if self.stack.get("/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)

    # --- the entries ---------------------------------------------------------------------------------------------
    def a_literal(self) -> dict:
        self.at("v1.2.4")
        st = self.stack

        def commands() -> int:
            st.compose("down", "--timeout", "30")
            st.host(["git", "-C", str(st.app_dir), "checkout", "--quiet", "v1.2.3"])
            st.compose("build", "--quiet")
            for n, services in enumerate(LITERAL_STAGES):
                st.compose("up", "-d", *services)
                if n == 0:
                    time.sleep(30)  # the runbook's wait for the databases
            return 0

        return self.timed(commands)

    def a(self, *extra: str) -> dict:
        self.at("v1.2.4")
        return self.timed(lambda: self.said(self.stack.playbook("procedure_a", *extra, version="v1.2.3",
                                                                incident=f"bench-{uuid.uuid4().hex[:6]}")))  # fmt: skip

    def b(self) -> dict:
        self.at("v1.3.0")
        incident = f"bench-{uuid.uuid4().hex[:6]}"
        return self.timed(lambda: self.said(self.stack.playbook("procedure_b", incident=incident)))

    def c(self, *extra: str) -> dict:
        # Procedure C pinned billing-service back: the gateway says v1.2.5 all along, so deploy it anew.
        self.at("v1.2.5", "-e", "rollback_replace=plain", always=True)
        incident = f"bench-{uuid.uuid4().hex[:6]}"
        return self.timed(lambda: self.said(self.stack.playbook("procedure_c", *extra, incident=incident)),
                          only=lambda s: s["flow"] != "checkout")  # fmt: skip


ENTRIES = {
    "A literal": lambda race: race.a_literal(),
    "A full": lambda race: race.a("-e", "stop_mode=full"),
    "A plain": lambda race: race.a("-e", "rollback_replace=plain"),
    "A side_by_side": lambda race: race.a(),
    "B": lambda race: race.b(),
    "C plain": lambda race: race.c("-e", "rollback_replace=plain"),
    "C side_by_side": lambda race: race.c(),
}
FIGURES = (("no_answer", "no answer", "d"), ("by_rollback", "5xx by it", "d"), ("longest", "longest gap", ".2f"),
           ("seconds", "run", ".1f"))  # fmt: skip


def spread(values: list, fmt: str) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    if fmt == "d" and mid != int(mid):  # the median of an even number of counts
        mid, fmt = float(mid), ".1f"
    mid = int(mid) if fmt == "d" else mid
    return f"{mid:{fmt}}" if low == high else f"{mid:{fmt}} ({low:{fmt}}-{high:{fmt}})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the whole race (default 3)")
    parser.add_argument("--rate", type=float, default=40, help="requests per second of user traffic (default 40)")
    parser.add_argument("--only", action="append", choices=list(ENTRIES), help="run only this entry (repeatable)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="rbbench-"))
    stack = Stack(root, f"rbbench{uuid.uuid4().hex[:6]}", echo=False)
    results: dict[str, list[dict]] = {name: [] for name in ENTRIES if not args.only or name in args.only}
    try:
        if stack.playbook("deploy", version="v1.2.3").rc != 0:
            print("bench: could not deploy v1.2.3", file=sys.stderr)
            return 1
        for n in range(args.rounds):
            for name in results:
                results[name].append(ENTRIES[name](Race(stack, args.rate)))
                r = results[name][-1]
                print(f"round {n + 1} {name}: rc {r['rc']}, {r['no_answer']} without an answer, {r['by_rollback']} "
                      f"5xx by the rollback, longest gap {r['longest']:.2f} s, {r['seconds']:.1f} s"
                      + (f" (failed: {', '.join(r['failed'])})" if r["failed"] else ""), flush=True)
    finally:
        stack.destroy()
        shutil.rmtree(root, ignore_errors=True)

    print(f"\nThe race: {args.rounds} round(s), {args.rate:g} requests/s through the port users reach; median "
          "(min-max); ratio to the literal runbook's median")
    head = f"{'entry':<16}{'rc':>4}" + "".join(f" {label:>25}" for _key, label, _fmt in FIGURES)
    print(head)
    literal = results.get("A literal")
    for name, rows in results.items():
        cells = []
        for key, _label, fmt in FIGURES:
            values = [r[key] for r in rows]
            cell = spread(values, fmt)
            if literal and name.startswith("A ") and name != "A literal":
                base = statistics.median(r[key] for r in literal)
                cell += f" x{statistics.median(values) / base:.2f}" if base else ""
            cells.append(f" {cell:>25}")
        print(f"{name:<16}{max(r['rc'] for r in rows):>4}" + "".join(cells))
    worst = {name: max(r["no_answer"] + r["by_rollback"] for r in rows) for name, rows in results.items()}
    b_window = [r["longest"] for r in results.get("B", [])]
    print("HEADLINE: failed requests (no answer or 5xx by the rollback, worst round): "
          + ", ".join(f"{name} {worst[name]}" for name in results if name in ("A side_by_side", "C side_by_side"))
          + (f"; Procedure B's window {max(b_window):.2f} s" if b_window else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
