"""scripts/phases.py: the table `.ci/run` ends with, pass or fail, and the budget's warning line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "phases.py"

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3">
<testcase classname="tests.integration.test_procedure_b" name="test_restore" time="95.2"/>
<testcase classname="tests.integration.test_assess" name="test_auto[a]" time="12.5"/>
<testcase classname="tests.integration.test_backup" name="test_list" time="240.0"/>
</testsuite></testsuites>
"""


def run(tmp_path, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, RUNBOOK_PHASES=str(tmp_path / "phases.tsv"))
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, check=True)


def write(tmp_path, rows) -> None:
    (tmp_path / "phases.tsv").write_text("".join(f"{name}\t{event}\t{at}\n" for name, event, at in rows))


def budget(tmp_path, text) -> Path:
    path = tmp_path / "budget"
    path.write_text(text)
    return path


def test_start_and_end_are_recorded_and_the_end_says_how_long(tmp_path):
    assert run(tmp_path, "start", "lint").stdout == ""
    out = run(tmp_path, "end", "lint").stdout
    assert out.startswith("==> lint took ") and out.endswith(" s\n")
    events = [line.split("\t")[:2] for line in (tmp_path / "phases.tsv").read_text().splitlines()]
    assert events == [["lint", "start"], ["lint", "end"]]


def test_the_table_lists_each_phase_with_its_time_budget_and_state(tmp_path):
    write(tmp_path, [("setup", "start", 1000), ("setup", "end", 1030), ("integration", "start", 1030),
                     ("integration", "end", 2230), ("drill default", "start", 2230)])  # fmt: skip
    (tmp_path / "junit").mkdir()
    (tmp_path / "junit" / "integration.xml").write_text(JUNIT)
    path = budget(tmp_path, "# seconds\nlimit 2100\nsetup 60\nintegration 1200\ndrill default 200\n")
    out = run(tmp_path, "report", "--junit", str(tmp_path / "junit"), "--budget", str(path)).stdout
    lines = out.splitlines()
    assert any(line.split()[:4] == ["setup", "30", "s", "1"] and line.endswith("ok") for line in lines), out
    assert any(line.split()[:5] == ["integration", "20", "min", "00", "s"] for line in lines), out
    # The drill never ended: it is the one that failed or was running when the run stopped.
    assert any(line.startswith("  drill default") and line.endswith("unfinished") for line in lines), out
    slowest = out.split("THE TEN SLOWEST TESTS", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    assert [line.split()[-1] for line in slowest] == [
        "test_backup::test_list", "test_procedure_b::test_restore", "test_assess::test_auto[a]"]  # fmt: skip
    assert slowest[0].split()[:3] == ["4", "min", "00"]


def test_over_the_limit_a_warning_names_the_phase_that_grew_most(tmp_path):
    write(tmp_path, [("lint", "start", 0), ("lint", "end", 200), ("integration", "start", 200),
                     ("integration", "end", 2000), ("drill b", "start", 2000), ("drill b", "end", 2400)])  # fmt: skip
    path = budget(tmp_path, "limit 2100\nlint 180\nintegration 1200\ndrill b 380\n")
    out = run(tmp_path, "report", "--budget", str(path)).stdout
    warning = out.strip().splitlines()[-1]
    assert warning.startswith("WARNING: this run took 40 min 00 s, over its budget of 35 min 00 s")
    assert "the phase that grew most is integration (30 min 00 s, 10 min 00 s over its 20 min 00 s)" in warning


def test_within_the_limit_there_is_no_warning(tmp_path):
    write(tmp_path, [("unit", "start", 0), ("unit", "end", 60)])
    out = run(tmp_path, "report", "--budget", str(budget(tmp_path, "limit 2100\nunit 30\n"))).stdout
    assert "WARNING" not in out
    assert "total" in out


def test_a_report_without_any_record_still_prints_the_table(tmp_path):
    out = run(tmp_path, "report").stdout
    assert "PHASES OF THIS RUN" in out and "total" in out


def test_the_total_is_the_runs_own_time_when_phases_overlap(tmp_path):
    # Two drills side by side for 5 minutes each: the run took 5 minutes, not 10.
    write(tmp_path, [("molecule", "start", 0), ("molecule b", "start", 0), ("molecule a", "start", 1),
                     ("molecule a", "end", 299), ("molecule b", "end", 300), ("molecule", "end", 300)])  # fmt: skip
    out = run(tmp_path, "report", "--budget", str(budget(tmp_path, "limit 400\n"))).stdout
    (total,) = [line for line in out.splitlines() if line.strip().startswith("total")]
    assert total.split()[1:4] == ["5", "min", "00"]
    assert "WARNING" not in out


def test_each_phase_says_how_busy_the_cores_were(tmp_path):
    cores = os.cpu_count()
    # 100 s of a phase during which the cores were busy for half their time.
    write(tmp_path, [("unit", "start", 0), ("unit", "end", 100)])
    rows = (tmp_path / "phases.tsv").read_text().splitlines()
    (tmp_path / "phases.tsv").write_text(f"{rows[0]}\t1000\n{rows[1]}\t{1000 + 50 * cores}\n")
    out = run(tmp_path, "report").stdout
    (line,) = [line for line in out.splitlines() if line.startswith("  unit")]
    assert line.split()[-3:] == ["50", "%", "ok"], out


def test_a_recorded_phase_holds_the_busy_cpu_seconds(tmp_path):
    run(tmp_path, "start", "lint")
    run(tmp_path, "end", "lint")
    starts, ends = [line.split("\t") for line in (tmp_path / "phases.tsv").read_text().splitlines()]
    assert float(ends[3]) >= float(starts[3]) > 0


def test_the_playbook_runs_are_summed_per_playbook_costliest_first(tmp_path):
    runs = tmp_path / "playbooks.tsv"
    runs.write_text(
        "tests/integration/test_a.py::test_one\tdeploy\t0\t30.0\t18.0\n"
        "tests/integration/test_a.py::test_one\tprocedure_a\t0\t28.0\t20.0\n"
        "tests/integration/test_a.py::test_two\tdeploy\t2\t20.0\t12.0\n"
        "a line that is not a run\n"
    )
    out = run(tmp_path, "report", "--playbooks", str(runs)).stdout
    section = out.split("==> PLAYBOOK RUNS OF THE TESTS: ", 1)[1].splitlines()
    assert section[0] == "3, 50 s of CPU in all"
    assert [line.split()[:2] for line in section[2:]] == [["deploy", "2"], ["procedure_a", "1"]]
    assert section[2].split()[-4:] == ["15.0", "s", "25.0", "s"]


def test_the_test_modules_are_summed_longest_first(tmp_path):
    (tmp_path / "junit").mkdir()
    (tmp_path / "junit" / "integration.xml").write_text(JUNIT.replace(
        'name="test_auto[a]" time="12.5"', 'name="test_auto[a]" time="200.0"/>\n'
        '<testcase classname="tests.integration.test_assess" name="test_auto[b]" time="100.0"'))  # fmt: skip
    out = run(tmp_path, "report", "--junit", str(tmp_path / "junit")).stdout
    table = out.split("TEST MODULES BY TIME", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    assert [line.split() for line in table] == [
        ["5.0", "2", "tests", "test_assess.py"],
        ["4.0", "1", "tests", "test_backup.py"],
        ["1.6", "1", "tests", "test_procedure_b.py"],
    ]
