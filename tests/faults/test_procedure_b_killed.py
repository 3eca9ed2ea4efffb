"""Procedure B interrupted at each of its steps: PostgreSQL killed during the side restore, the run
killed (SIGKILL to the whole run, as a controller crash) at every step, PostgreSQL paused under the
swap; each time run again with -e break_lock=true, until a run completes: nothing is restored twice,
every kept database is reported, no row of the key tables is lost, no secret is anywhere.

One stack, one incident; the tests run in file order, each next run taking over from where the one
before stopped, as an on-call engineer's next attempt would.
"""

from __future__ import annotations

import json
import time

import docker
import pytest
from data import TABLES, broken_with_data, counts, databases, psql
from interrupt import run_until
from receiver import secrets_found

INCIDENT = "inc-b-killed"
KNOWN = {"email": "known.b@example.test", "password": "Known-b-pass-1"}
LATE_MESSAGE = "written on the broken release, before the rollback"


def side_exists(stack) -> bool:
    return any(d.startswith("saas_db_restore_") for d in databases(stack))


def kept(stack) -> list[str]:
    return [d for d in databases(stack) if d.startswith("saas_db_before_rollback_")]


def past(line: str):
    return lambda out, stack: line in out


def side_restoring(out, stack) -> bool:
    return "Restore the backup into the side database" in out and side_exists(stack)


def swap_committed(out, stack) -> bool:
    return "Read what earlier restores left on the database server" in out and bool(kept(stack))


def paused_in_the_swap(out, stack) -> bool:
    """At the swap: PostgreSQL paused under it (the run is then killed, and PostgreSQL resumed)."""
    if "Swap the restored database in" not in out:
        return False
    postgres(stack).pause()
    time.sleep(1)
    return True


def postgres(stack):
    return docker.from_env().containers.get(f"{stack.project}-postgres-1")


def wait_healthy(container, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        container.reload()
        if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
            return
        time.sleep(0.5)
    raise AssertionError(f"{container.name} not healthy after {seconds} s")


@pytest.fixture(scope="module")
def broken(stack):
    late = {"email": "late.b@example.test", "password": "Late-b-pass-1", "chat": "late chat", "message": LATE_MESSAGE}
    return broken_with_data(stack, KNOWN, late)


OUTPUTS: list[str] = []


def killed_at(stack, label, when) -> None:
    run = run_until(stack, "procedure_b", lambda out: when(out, stack), incident=INCIDENT, break_lock=True)
    OUTPUTS.append(run.output)
    assert run.killed, f"the run ended before {label}: rc {run.rc}\n{run.output[-3000:]}"


@pytest.mark.fault(
    "PostgreSQL killed during Procedure B's side restore",
    how="Docker SDK: kill of the database container while pg_restore fills the side database",
    holds="B fails in one line saying truly what became of the database; the data is intact once it is back",
)
def test_postgresql_killed_during_the_side_restore(stack, broken, fault_result):
    before = counts(stack)

    def kill_postgres(_pid: int) -> None:
        postgres(stack).kill()

    run = run_until(stack, "procedure_b", lambda out: side_restoring(out, stack), act=kill_postgres, incident=INCIDENT)
    OUTPUTS.append(run.output)
    assert run.rc != 0 and not run.killed
    fatal = [line for line in run.output.splitlines() if line.startswith("fatal:") and "Procedure B failed" in line]
    assert fatal, run.output[-3000:]
    assert "restoring" in fatal[-1] or "side database" in fatal[-1] or "server" in fatal[-1], fatal[-1]
    # True either way: the production database untouched, or its state unreadable while the server was down.
    assert "saas_db is untouched" in fatal[-1] or "could not be read" in fatal[-1], fatal[-1]
    assert "were started again" not in fatal[-1]
    container = postgres(stack)
    container.reload()
    if container.status != "running":
        container.start()  # as the on-call engineer would
    wait_healthy(container)
    after = counts(stack)
    fault_result.update(rows_lost=sum(max(0, before[t] - after[t]) for t in TABLES))
    assert after == before


@pytest.mark.fault(
    "Procedure B killed at step 1 (the lock just taken, the backup being verified), step 2 (the emergency "
    "backup) and step 3 (pg_restore running), each re-run with break_lock=true",
    how="SIGKILL to ansible-playbook and every process it started",
    holds="each next run cleans up what the dead one left (side database, dump copy) and goes on",
)
def test_killed_before_the_swap(stack, broken, fault_result):
    for label, when in (
        ("step 1, just after the lock was taken", past("Read what earlier restores left on the database server")),
        ("step 1, verifying the backup", past("Verify the backup and the free disk before anything is written")),
        ("step 2, taking the emergency backup", past("runbook.rollback.backup : Back up the database")),
        ("step 3, pg_restore filling the side database", side_restoring),
    ):
        killed_at(stack, label, when)
    assert not kept(stack), "nothing was swapped yet"
    fault_result.update(rows_lost=0)


@pytest.mark.fault(
    "PostgreSQL paused during Procedure B's swap, then the run killed",
    how="Docker SDK: pause of the database container, SIGKILL to the run, then unpause",
    holds="the next run reads the real state (swapped or not, connections allowed) and goes on from it",
)
def test_paused_in_the_swap_then_killed(stack, broken, fault_result):
    try:
        killed_at(stack, "step 4, the swap, PostgreSQL paused", paused_in_the_swap)
    finally:
        postgres(stack).unpause()
    wait_healthy(postgres(stack))
    fault_result.update(rows_lost=0)


@pytest.mark.fault(
    "Procedure B killed after its swap committed, then at step 6 (the staged restart) and step 7 (the "
    "verification), each re-run with break_lock=true, until a run completes",
    how="SIGKILL to ansible-playbook and every process it started",
    holds="one swap, never a second restore; one kept database, reported; no side database left; no row lost",
)
def test_killed_after_the_swap_then_completed(stack, broken, fault_result):
    for label, when in (
        ("after the swap committed", swap_committed),
        ("step 6, the staged restart", past("Start each stage")),
        ("step 7, the verification", past("runbook.rollback.verify : Read the project's containers")),
    ):
        killed_at(stack, label, when)
    final = stack.playbook("procedure_b", incident=INCIDENT, break_lock=True)
    OUTPUTS.append(final.output)
    assert final.rc == 0, final.output

    # One swap: a run after it resumed instead of restoring the backup a second time.
    assert any(f"saas_db is already the restore of {broken['id']}" in out for out in OUTPUTS), final.output[-3000:]
    (kept_db,) = kept(stack)
    assert not side_exists(stack), databases(stack)
    leftovers = stack.compose("exec", "-T", "postgres", "find", "/tmp", "-name", "*.dump").stdout.split()
    assert leftovers == []
    assert stack.get("/health")[1].get("version") == "v1.2.3"
    assert not (stack.state_dir / "lock").exists()

    # Every kept database reported: in the history, in the report and in the run's own words.
    last = stack.history()[-1]
    assert (last["version"], last["action"], last["result"]) == ("v1.2.3", "rollback", "verified")
    assert (last["restored_backup"], last["kept_database"]) == (broken["id"], kept_db)
    assert last["kept_databases"] == [kept_db]
    report = json.loads((stack.state_dir / "incidents" / INCIDENT / "report.json").read_text())
    assert {"role": "kept database", "id": kept_db} in [{"role": b["role"], "id": b["id"]} for b in report["backups"]]
    assert kept_db in final.output

    # Nothing lost: the restored tables hold at least the backup's rows, and the write made on the broken
    # release after the deployment is in the kept database and in the reconciliation export.
    now = counts(stack)
    lost = sum(max(0, broken["row_counts"][t] - now[t]) for t in TABLES)
    assert psql(stack, "SELECT count(*) FROM messages WHERE body = 'kept by the restore'") == "1"
    assert psql(stack, f"SELECT count(*) FROM messages WHERE body = '{LATE_MESSAGE}'", kept_db) == "1"  # noqa: S608
    exported = "".join(p.read_text() for p in (stack.state_dir / "incidents" / INCIDENT).rglob("*.csv"))
    assert LATE_MESSAGE in exported
    # reconcile.sql brings it back into the restored database, in its own chat.
    with next((stack.state_dir / "incidents" / INCIDENT).rglob("reconcile.sql")).open("rb") as fh:
        load = stack.compose("exec", "-T", "postgres", "psql", "-v", "ON_ERROR_STOP=1", "-d", "saas_db", "-f", "-",
                             check=False, text=False, stdin=fh)  # fmt: skip
    assert load.returncode == 0, load.stderr.decode()[-2000:]
    chat_of = f"SELECT c.title FROM messages m JOIN chats c ON c.id = m.chat_id WHERE m.body = '{LATE_MESSAGE}'"  # noqa: S608
    assert psql(stack, chat_of) == "late chat"
    found = secrets_found(OUTPUTS, stack.state_dir, stack.timelines)
    fault_result.update(rows_lost=lost, secrets_found=len(found))
    assert lost == 0 and found == []
