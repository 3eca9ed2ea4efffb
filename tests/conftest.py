"""The fault matrix: every test marked `fault` is a fault caused for real, and what must hold after it.

    @pytest.mark.fault("SIGKILL of Procedure B after its swap committed", how="os.killpg(SIGKILL)",
                       holds="the re-run resumes after the swap; nothing restored twice")
    def test_...(..., fault_result):
        fault_result.update(rows_lost=0, secrets_found=0)   # what the test measured

At the end of a run that ran any, pytest prints the matrix: one row per fault with its result (survived
when the test passed), the rows of key tables lost and the secrets found where the test measured them,
and a last line with the totals. `make faults` runs the fault tests alone (--fault-modules keeps the
whole modules they belong to, since a module's tests build on each other). Works under pytest-xdist: the
rows travel in the test reports' user_properties.

The integration and fault modules run on two workers, a module per worker, heaviest first: the order
below, so that the last module to start is a short one and both workers finish together.
"""

from __future__ import annotations

import json

import pytest

_ROWS: dict[str, dict] = {}


def pytest_addoption(parser):
    parser.addoption("--fault-modules", action="store_true",
                     help="run only the modules that hold fault tests (the fault matrix)")  # fmt: skip


# The longest modules first, so that two workers end close together (minutes per module, summed over its
# tests, in a CI run of 2026-12-03 on the 2-core machine, the drills running beside). A module not listed
# runs after them, in collection order: add a new module here by its measured time (.ci/run prints the
# slowest tests). xdist hands a worker its next module while two tests of its current one are left, so a
# long module placed late can still end up alone on one worker: keep the short ones last.
HEAVIEST_FIRST = (
    "test_procedure_b.py",  # 10.9
    "test_procedure_b_killed.py",  # 10.6
    "test_procedure_c.py",  # 9.3
    "test_procedure_a.py",  # 9.1
    "test_assess.py",  # 10 (with the verification and container-state tests)
    "test_shutdown_faults.py",  # 8.4
    "test_fallback.py",  # 4.3
    "test_drill.py",  # about 3.5 (new)
    "test_second_app.py",  # 3.3
    "test_writes_under_traffic.py",  # 3.3
    "test_backup.py",  # 2.0
    "test_notify.py",  # 1.4
    "test_monitoring.py",  # 1.3 (new)
    "test_backup_s3.py",  # 1.1
    "test_prometheus.py",  # 1.0
    "test_interrupted.py",  # 1.0
    "test_procedure_d.py",  # 0.9
    "test_lock_race.py",  # 0.3
    "test_report_browser.py",  # 0.2
    "test_staging_proxy.py",  # 0.1 (new)
)


def pytest_collection_modifyitems(config, items):
    if config.getoption("--fault-modules"):
        modules = {item.path for item in items if item.get_closest_marker("fault")}
        items[:] = [item for item in items if item.path in modules]
    rank = {name: i for i, name in enumerate(HEAVIEST_FIRST)}
    # sort is stable: the tests of a module keep their file order.
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("fault")
    if marker:
        what = marker.args[0] if marker.args else item.name
        if getattr(item, "callspec", None):
            what += " [%s]" % item.callspec.id
        row = {"fault": what, "how": marker.kwargs.get("how", ""), "holds": marker.kwargs.get("holds", "")}
        item.user_properties.append(("fault", json.dumps(row)))


@pytest.fixture
def fault_result(request):
    """What a fault test measured: rows_lost, secrets_found (left out when not measured)."""
    measured: dict = {}
    yield measured
    request.node.user_properties.append(("fault_measured", json.dumps(measured)))


def pytest_runtest_logreport(report):
    props = dict(report.user_properties)
    if "fault" not in props:
        return
    row = _ROWS.setdefault(report.nodeid, {**json.loads(props["fault"]), "nodeid": report.nodeid, "result": None})
    if "fault_measured" in props:
        row.update(json.loads(props["fault_measured"]))
    if report.failed:
        row["result"] = "FAILED" if report.when == "call" else "ERROR (%s)" % report.when
    elif report.when == "call" and row["result"] is None:
        row["result"] = "survived"
    elif report.skipped and row["result"] is None:
        row["result"] = "skipped"


def _cell(value):
    return "-" if value is None else str(value)


def pytest_terminal_summary(terminalreporter):
    if not _ROWS:
        return
    rows = sorted(_ROWS.values(), key=lambda r: r["nodeid"])
    write = terminalreporter.write_line
    terminalreporter.section("fault matrix")
    write("| # | fault caused | how | what must hold | result | rows lost | secrets found |")
    write("|---|---|---|---|---|---|---|")
    for number, row in enumerate(rows, 1):
        write("| %d | %s | %s | %s | %s | %s | %s |" % (
            number, row["fault"], row["how"] or "-", row["holds"] or "-", row["result"] or "not run",
            _cell(row.get("rows_lost")), _cell(row.get("secrets_found"))))  # fmt: skip
    survived = sum(1 for r in rows if r["result"] == "survived")
    lost = sum(int(r.get("rows_lost") or 0) for r in rows)
    found = sum(int(r.get("secrets_found") or 0) for r in rows)
    write("")
    write("FAULT MATRIX: %d faults, %d survived, %d not; rows lost: %d; secrets found: %d"
          % (len(rows), survived, len(rows) - survived, lost, found))  # fmt: skip
