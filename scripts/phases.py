#!/usr/bin/env python3
"""What each phase of `make test` cost, so that every change sees what it costs.

    scripts/phases.py start NAME        # recorded in $RUNBOOK_PHASES (when set); prints nothing
    scripts/phases.py end NAME          # recorded, and prints "==> NAME took 1 min 02 s"
    scripts/phases.py report [--junit DIR] [--budget FILE]

`report` prints a table of every phase with its time and state (a phase that started and never ended is
the one that failed, or the one running when the run was stopped), the ten slowest tests from the JUnit
files in DIR, and the run's total. When the total passes the budget's limit, a warning line names the
phase that grew most over its own budget, so that the run that broke the budget says where.

The budget file holds `limit SECONDS` and `NAME SECONDS` lines (see .ci/budget).
Standard library only: it runs before the venv exists (the setup phase).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path


def duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def record(event: str, name: str) -> None:
    path = os.environ.get("RUNBOOK_PHASES")
    now = time.time()
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{name}\t{event}\t{now:.3f}\n")
    if event == "end":
        started = None
        if path:
            started = {n: t for n, e, t in read(Path(path)) if e == "start"}.get(name)
        took = f" took {duration(now - started)}" if started else " done"
        print(f"==> {name}{took}", flush=True)


def read(path: Path) -> list[tuple[str, str, float]]:
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            try:
                rows.append((parts[0], parts[1], float(parts[2])))
            except ValueError:
                continue
    return rows


def phases(rows: list[tuple[str, str, float]], now: float) -> list[dict]:
    """[{name, seconds, state}] in the order the phases started."""
    out: dict[str, dict] = {}
    for name, event, at in rows:
        if event == "start":
            out[name] = {"name": name, "start": at, "seconds": None, "state": "unfinished"}
        elif event == "end" and name in out:
            out[name]["seconds"] = at - out[name]["start"]
            out[name]["state"] = "ok"
    for phase in out.values():
        if phase["seconds"] is None:
            phase["seconds"] = now - phase["start"]
    return list(out.values())


def read_budget(path: Path | None) -> tuple[float | None, dict[str, float]]:
    limit, per_phase = None, {}
    if not path or not path.exists():
        return limit, per_phase
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, value = line.rpartition(" ")
        name = name.strip()
        try:
            seconds = float(value)
        except ValueError:
            continue
        if name == "limit":
            limit = seconds
        elif name:
            per_phase[name] = seconds
    return limit, per_phase


def slowest_tests(junit_dir: Path | None, count: int = 10) -> list[tuple[float, str]]:
    tests = []
    if not junit_dir or not junit_dir.is_dir():
        return tests
    for path in sorted(junit_dir.glob("*.xml")):
        try:
            # pytest wrote these files in this very run.
            root = ET.parse(path).getroot()  # noqa: S314
        except ET.ParseError:
            continue
        for case in root.iter("testcase"):
            try:
                seconds = float(case.get("time") or 0)
            except ValueError:
                continue
            module = (case.get("classname") or "").rsplit(".", 1)[-1]
            tests.append((seconds, f"{module}::{case.get('name')}" if module else str(case.get("name"))))
    tests.sort(reverse=True)
    return tests[:count]


def report(rows, now, junit_dir, budget_path) -> list[str]:
    found = phases(rows, now)
    limit, budget = read_budget(budget_path)
    lines = ["", "==> PHASES OF THIS RUN", f"  {'phase':<28}{'took':>14}  {'budget':>14}  state"]
    # The run's own time, first start to last end: the drills' phases overlap, their sum would not be.
    total = max((p["start"] + p["seconds"] for p in found), default=0.0) - min((p["start"] for p in found), default=0.0)
    for phase in found:
        own = budget.get(phase["name"])
        lines.append(f"  {phase['name']:<28}{duration(phase['seconds']):>14}  "
                     f"{duration(own) if own else '-':>14}  {phase['state']}")  # fmt: skip
    lines.append(f"  {'total':<28}{duration(total):>14}  {duration(limit) if limit else '-':>14}")
    tests = slowest_tests(junit_dir)
    if tests:
        lines += ["", "==> THE TEN SLOWEST TESTS (setup, call and teardown)"]
        lines += [f"  {duration(seconds):>12}  {name}" for seconds, name in tests]
    if limit and total > limit:
        grown = [(p["seconds"] - budget.get(p["name"], 0.0), p) for p in found]
        over, worst = max(grown, key=lambda item: item[0])
        lines.append("")
        lines.append(f"WARNING: this run took {duration(total)}, over its budget of {duration(limit)}; "
                     f"the phase that grew most is {worst['name']} ({duration(worst['seconds'])}, "
                     f"{duration(over)} over its {duration(budget.get(worst['name'], 0.0))})")  # fmt: skip
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "end"):
        sub.add_parser(name).add_argument("name")
    rep = sub.add_parser("report")
    rep.add_argument("--junit", type=Path, help="directory of JUnit XML files (pytest --junitxml)")
    rep.add_argument("--budget", type=Path, help="file of `limit SECONDS` and `PHASE SECONDS` lines")
    args = parser.parse_args(argv)
    if args.command in ("start", "end"):
        record(args.command, args.name)
        return 0
    path = os.environ.get("RUNBOOK_PHASES")
    rows = read(Path(path)) if path else []
    print("\n".join(report(rows, time.time(), args.junit, args.budget)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
