#!/usr/bin/env python3
"""What each phase of `make test` cost, so that every change sees what it costs.

    scripts/phases.py start NAME        # recorded in $RUNBOOK_PHASES (when set); prints nothing
    scripts/phases.py end NAME          # recorded, and prints "==> NAME took 1 min 02 s"
    scripts/phases.py report [--junit DIR] [--budget FILE] [--playbooks FILE]

`report` prints a table of every phase with its time, how busy the machine's cores were meanwhile, and its
state (a phase that started and never ended is the one that failed, or the one running when the run was
stopped), the ten slowest tests from the JUnit files in DIR, what the tests' playbook runs cost (FILE: the
lines tests/integration/stack.py appends when RUNBOOK_PLAYBOOKS names it), and the run's total. When the
total passes the budget's limit, a warning line names the phase that grew most over its own budget, so that
the run that broke the budget says where.

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


def busy_seconds() -> float | None:
    """CPU seconds the machine's cores have spent busy since boot (every core, every process), or None."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...: all but idle and iowait.
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def record(event: str, name: str) -> None:
    path = os.environ.get("RUNBOOK_PHASES")
    now = time.time()
    if path:
        busy = busy_seconds()
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{name}\t{event}\t{now:.3f}" + (f"\t{busy:.2f}" if busy is not None else "") + "\n")
    if event == "end":
        started = None
        if path:
            started = {n: t for n, e, t, *_ in read(Path(path)) if e == "start"}.get(name)
        took = f" took {duration(now - started)}" if started else " done"
        print(f"==> {name}{took}", flush=True)


def read(path: Path) -> list[tuple]:
    """(name, event, time) or (name, event, time, busy CPU seconds) rows."""
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) in (3, 4):
            try:
                rows.append((parts[0], parts[1], *(float(v) for v in parts[2:])))
            except ValueError:
                continue
    return rows


def phases(rows: list[tuple], now: float) -> list[dict]:
    """[{name, seconds, busy, state}] in the order the phases started; busy is the CPU seconds the machine
    spent meanwhile (None when not recorded)."""
    out: dict[str, dict] = {}
    for name, event, at, *busy in rows:
        if event == "start":
            out[name] = {"name": name, "start": at, "seconds": None, "busy": None, "state": "unfinished",
                         "busy_start": busy[0] if busy else None}  # fmt: skip
        elif event == "end" and name in out:
            out[name]["seconds"] = at - out[name]["start"]
            out[name]["state"] = "ok"
            if busy and out[name]["busy_start"] is not None:
                out[name]["busy"] = busy[0] - out[name]["busy_start"]
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


def test_times_of(path: Path) -> list[tuple[float, str]]:
    """Every test case's time (setup, call and teardown) in one JUnit file, as (seconds, module::name)."""
    tests = []
    try:
        # pytest wrote these files in this very run.
        root = ET.parse(path).getroot()  # noqa: S314
    except ET.ParseError:
        return tests
    for case in root.iter("testcase"):
        try:
            seconds = float(case.get("time") or 0)
        except ValueError:
            continue
        module = (case.get("classname") or "").rsplit(".", 1)[-1]
        tests.append((seconds, f"{module}::{case.get('name')}" if module else str(case.get("name"))))
    return tests


def test_times(junit_dir: Path | None) -> list[tuple[float, str]]:
    """Every test case's time in the JUnit files of a directory."""
    if not junit_dir or not junit_dir.is_dir():
        return []
    return [test for path in sorted(junit_dir.glob("*.xml")) for test in test_times_of(path)]


def slowest_tests(junit_dir: Path | None, count: int = 10) -> list[tuple[float, str]]:
    return sorted(test_times(junit_dir), reverse=True)[:count]


def module_times(junit_dir: Path | None, prefix: str = "test_") -> list[tuple[float, int, str]]:
    """Minutes per test module (its tests summed), the longest first: what tests/conftest.py's
    HEAVIEST_FIRST is ordered by."""
    per: dict[str, list] = {}
    tests = []
    if junit_dir and junit_dir.is_dir():
        # The integration run's own file (make integration writes integration.xml): the unit tests' modules are
        # not ordered by it.
        for path in junit_dir.glob("integration*.xml"):
            tests += test_times_of(path)
    for seconds, name in tests:
        module = name.split("::", 1)[0]
        if module.startswith(prefix):
            entry = per.setdefault(module, [0.0, 0])
            entry[0] += seconds
            entry[1] += 1
    return sorted(((sec / 60, count, f"{module}.py") for module, (sec, count) in per.items()), reverse=True)


def playbook_costs(path: Path | None) -> list[str]:
    """What the tests' playbook runs cost: the lines of tests/integration/stack.py (test, playbook, rc, wall
    and CPU seconds, tab-separated), summed per playbook, the costliest first."""
    if not path or not path.exists():
        return []
    per: dict[str, list[float]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 5:
            continue
        try:
            wall, cpu = float(parts[3]), float(parts[4])
        except ValueError:
            continue
        runs = per.setdefault(parts[1], [0, 0.0, 0.0])
        runs[0] += 1
        runs[1] += wall
        runs[2] += cpu
    if not per:
        return []
    count = sum(r[0] for r in per.values())
    cpu = sum(r[2] for r in per.values())
    lines = ["", f"==> PLAYBOOK RUNS OF THE TESTS: {count}, {duration(cpu)} of CPU in all",
             f"  {'playbook':<28}{'runs':>6}{'CPU':>14}{'CPU each':>10}{'wall each':>11}"]  # fmt: skip
    for name, (runs, wall, used) in sorted(per.items(), key=lambda item: -item[1][2]):
        lines.append(f"  {name:<28}{runs:>6}{duration(used):>14}{used / runs:>8.1f} s{wall / runs:>9.1f} s")
    return lines


def report(rows, now, junit_dir, budget_path, playbooks_path=None) -> list[str]:
    found = phases(rows, now)
    limit, budget = read_budget(budget_path)
    cores = os.cpu_count() or 1
    lines = ["", "==> PHASES OF THIS RUN", f"  {'phase':<28}{'took':>14}  {'budget':>14}  {'cpu':>5}  state"]
    # The run's own time, first start to last end: the drills' phases overlap, their sum would not be.
    total = max((p["start"] + p["seconds"] for p in found), default=0.0) - min((p["start"] for p in found), default=0.0)
    for phase in found:
        own = budget.get(phase["name"])
        # How busy the machine's cores were during the phase (every process, overlapping phases included).
        cpu = f"{100 * phase['busy'] / (phase['seconds'] * cores):.0f} %" if phase["busy"] and phase["seconds"] else "-"
        lines.append(f"  {phase['name']:<28}{duration(phase['seconds']):>14}  "
                     f"{duration(own) if own else '-':>14}  {cpu:>5}  {phase['state']}")  # fmt: skip
    lines.append(f"  {'total':<28}{duration(total):>14}  {duration(limit) if limit else '-':>14}")
    tests = slowest_tests(junit_dir)
    if tests:
        lines += ["", "==> THE TEN SLOWEST TESTS (setup, call and teardown)"]
        lines += [f"  {duration(seconds):>12}  {name}" for seconds, name in tests]
    modules = [m for m in module_times(junit_dir) if m[0] >= 0.1]
    if modules:
        lines += ["", "==> TEST MODULES BY TIME (minutes of their tests summed; tests/conftest.py's HEAVIEST_FIRST)"]
        lines += [f"  {minutes:>6.1f}  {count:>3} tests  {name}" for minutes, count, name in modules]
    lines += playbook_costs(playbooks_path)
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
    rep.add_argument("--playbooks", type=Path, help="file of the tests' playbook runs (RUNBOOK_PLAYBOOKS)")
    args = parser.parse_args(argv)
    if args.command in ("start", "end"):
        record(args.command, args.name)
        return 0
    path = os.environ.get("RUNBOOK_PHASES")
    rows = read(Path(path)) if path else []
    print("\n".join(report(rows, time.time(), args.junit, args.budget, args.playbooks)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
