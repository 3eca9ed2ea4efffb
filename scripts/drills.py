#!/usr/bin/env python3
"""Run the molecule drills, several at a time: `molecule reset` then `molecule test` per scenario.

    scripts/drills.py [--lanes 2] SCENARIO...

A drill spends most of its time waiting on its own stack (traffic, sampling windows, health), so two
of them share the machine's two cores well; each has its own project, port and ephemeral directory.
Scenarios start in the order given (put the longest first); a lane takes the next one when its drill
ends. Each drill's output is kept whole and printed when the drill ends, so that two drills never
interleave in a log. Every drill runs even when one fails; the exit status is 1 if any failed.

`molecule reset` first: molecule keeps "already prepared" in a state file keyed on the checkout's path,
and would skip the drill's prepare on the next run from the same path.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHASES = [sys.executable, str(HERE / "phases.py")]
# What every drill shares (molecule finds it by itself in a git checkout; named so that a tree without
# .git finds it too).
BASE_CONFIG = HERE.parent / ".config" / "molecule" / "config.yml"


def run_drill(scenario: str, out_lock: threading.Lock, results: dict) -> None:
    name = f"molecule {scenario}"
    subprocess.run([*PHASES, "start", name], check=False)
    started = time.monotonic()
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as log:
        rc = 0
        for step in (["reset"], ["test"]):
            argv = ["molecule", "--base-config", str(BASE_CONFIG), *step, "--scenario-name", scenario]
            proc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False)
            rc = proc.returncode
            if rc != 0:
                break
        log.seek(0)
        with out_lock:
            print(f"\n==> molecule drill {scenario} (output kept until it ended)", flush=True)
            for line in log:
                sys.stdout.write(line)
            sys.stdout.flush()
            if rc == 0:
                subprocess.run([*PHASES, "end", name], check=False)
            else:
                print(f"==> drill {scenario} FAILED (exit {rc}) after {time.monotonic() - started:.0f} s", flush=True)
    results[scenario] = rc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=2, help="drills run at the same time (default 2)")
    parser.add_argument("scenarios", nargs="+")
    args = parser.parse_args(argv)
    queue = list(args.scenarios)
    queue_lock, out_lock = threading.Lock(), threading.Lock()
    results: dict[str, int] = {}

    def lane() -> None:
        while True:
            with queue_lock:
                if not queue:
                    return
                scenario = queue.pop(0)
            run_drill(scenario, out_lock, results)

    threads = [threading.Thread(target=lane) for _ in range(max(1, args.lanes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [s for s in args.scenarios if results.get(s) != 0]
    if failed:
        print(f"==> drills failed: {', '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
