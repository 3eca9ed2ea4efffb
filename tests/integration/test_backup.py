"""Backups of the staging stack's real PostgreSQL: on demand (backup.yml), before a deployment's
migrations (deploy.yml), their sidecars, and their verification before use.

The tests share one stack and run in file order."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

TABLES = ("users", "chats", "messages", "subscriptions")


def count(stack, table: str) -> int:
    sql = f"SELECT count(*) FROM {table}"  # noqa: S608 - the tests' own table names
    proc = stack.compose("exec", "-T", "postgres", "psql", "-At", "-d", "saas_db", "-c", sql)
    return int(proc.stdout.strip())


def sidecars(stack) -> list[dict]:
    backups = stack.state_dir / "backups"
    return [json.loads(p.read_text()) for p in sorted(backups.glob("*.json"))] if backups.exists() else []


def db_backup(stack, **args) -> tuple[int, dict]:
    return stack.module("db_backup", args)


def compose_argv(stack) -> list[str]:
    return ["docker", "compose", "--project-name", stack.project, "--project-directory", str(stack.app_dir),
            f"--file={stack.app_dir}/docker-compose.prod.yml"]  # fmt: skip


@pytest.fixture(scope="module")
def seeded(stack):
    assert stack.playbook("deploy", version="v1.2.3").rc == 0
    # A first deploy has no database to back up.
    assert sidecars(stack) == [] and stack.history()[-1]["backup"] is None
    with stack.traffic(seconds=8, rate=20) as users:
        users.wait(timeout=60)
    assert count(stack, "messages") > 0
    return stack


def test_backup_on_demand_records_a_verified_sidecar(seeded):
    before = {t: count(seeded, t) for t in TABLES}
    run = seeded.playbook("backup")
    assert run.rc == 0, run.output
    (meta,) = sidecars(seeded)
    dump = seeded.state_dir / "backups" / meta["file"]
    assert (meta["tag"], meta["database"], meta["version"], meta["format"]) == ("manual", "saas_db", "v1.2.3", "custom")
    assert meta["size"] == dump.stat().st_size > 0
    assert meta["sha256"] == hashlib.sha256(dump.read_bytes()).hexdigest()
    assert meta["row_counts"] == before
    assert meta["verified"] is True and meta["archive_entries"] > 0
    assert oct(dump.stat().st_mode & 0o777) == "0o640"
    # The archive really is what pg_restore reads: list it inside the container.
    with dump.open("rb") as fh:
        listing = subprocess.run(compose_argv(seeded) + ["exec", "-T", "postgres", "pg_restore", "--list"], stdin=fh,
                                 capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "TABLE DATA public messages" in listing


def test_deploy_backs_up_before_the_migration_destroys_chats(seeded):
    chats, messages = count(seeded, "chats"), count(seeded, "messages")
    run = seeded.playbook("deploy", version="v1.3.0", deploy_fail_on_verify=False)
    assert run.rc == 0, run.output
    pre = [m for m in sidecars(seeded) if m["tag"] == "pre_deploy"]
    assert len(pre) == 1
    assert pre[0]["version"] == "v1.2.3"
    assert (pre[0]["row_counts"]["chats"], pre[0]["row_counts"]["messages"]) == (chats, messages)
    # v1.3.0's migration 0003 lost them: the backup is the only copy.
    assert count(seeded, "messages") < messages
    assert seeded.history()[-1]["version"] == "v1.3.0"
    assert seeded.history()[-1]["backup"] == pre[0]["id"]


def test_redeploying_the_running_release_takes_no_backup(seeded):
    n = len(sidecars(seeded))
    run = seeded.playbook("deploy", version="v1.3.0", deploy_fail_on_verify=False)
    assert run.rc == 0, run.output
    assert len(sidecars(seeded)) == n


def test_list_returns_every_backup_oldest_first(seeded):
    rc, res = seeded.module("db_backup_info", {"dir": str(seeded.state_dir / "backups")})
    assert rc == 0, res
    assert [b["tag"] for b in res["backups"]] == ["manual", "pre_deploy"]
    assert all(b["dump_present"] for b in res["backups"])


@pytest.mark.fault(
    "A damaged backup file",
    how="the dump truncated, a byte flipped, or removed",
    holds="its verification fails in one line",
)
@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "size", id="truncated"),
        pytest.param(
            lambda p: p.write_bytes(p.read_bytes()[:-1] + bytes([p.read_bytes()[-1] ^ 0xFF])),
            "does not match the recorded",
            id="wrong-checksum",
        ),
        pytest.param(lambda p: p.unlink(), "is missing", id="missing"),
    ],
)
def test_a_damaged_backup_fails_verification_with_one_line(seeded, tmp_path, damage, expected):
    backups = seeded.state_dir / "backups"
    meta = sidecars(seeded)[0]
    # Damage a copy, never the original.
    copy_dir = tmp_path / "backups"
    copy_dir.mkdir()
    for suffix in (".dump", ".json"):
        (copy_dir / (meta["id"] + suffix)).write_bytes((backups / (meta["id"] + suffix)).read_bytes())
    rc, res = db_backup(seeded, state="verify", dir=str(copy_dir), id=meta["id"], compose_argv=compose_argv(seeded))
    assert rc == 0, res
    damage(Path(copy_dir / (meta["id"] + ".dump")))
    rc, res = db_backup(seeded, state="verify", dir=str(copy_dir), id=meta["id"], compose_argv=compose_argv(seeded))
    assert rc != 0
    assert expected in res["msg"] and "\n" not in res["msg"], res["msg"]


def test_a_backup_taken_under_write_traffic_restores_with_exactly_its_rows(seeded):
    """Users write at 40 requests/s while backup.yml runs: its row counts are the dump's own (one
    snapshot), so a restore of it holds exactly the rows it records, where counts read after the dump
    made the restore refuse every backup of a busy database."""
    before = {t: count(seeded, t) for t in TABLES}
    with seeded.traffic(seconds=30, rate=40):
        run = seeded.playbook("backup")
    assert run.rc == 0, run.output
    meta = [m for m in sidecars(seeded) if m["tag"] == "manual"][-1]
    assert meta["consistent"] is True
    after = {t: count(seeded, t) for t in TABLES}
    # The users really wrote around it: the database moved on from what the backup holds.
    assert meta["row_counts"]["messages"] > before["messages"]
    assert after["messages"] > meta["row_counts"]["messages"]

    side = "saas_db_restore_20000101_000000"
    args = dict(dir=str(seeded.state_dir / "backups"), id=meta["id"], compose_argv=compose_argv(seeded),
                database="saas_db", side=side, tables=list(TABLES))  # fmt: skip
    rc, res = seeded.module("db_restore", dict(args, state="side"))
    try:
        assert rc == 0, res.get("msg")
        assert res["row_counts"] == meta["row_counts"]
    finally:
        seeded.module("db_restore", dict(dir=args["dir"], compose_argv=args["compose_argv"], database="saas_db",
                                         side=side, state="absent"))  # fmt: skip


@pytest.mark.fault(
    "A byte changed in a late table's data in a dump whose sha256 was recomputed",
    how="one message's text altered in a copy of the dump, its size and sha256 recorded anew",
    holds="the restore into the side database fails on that table's checksum; the side database is dropped",
)
def test_an_altered_dump_with_a_recomputed_checksum_is_caught_by_the_restore(seeded, fault_result):
    backups = seeded.state_dir / "backups"
    meta = [m for m in sidecars(seeded) if m["tag"] == "manual" and m.get("row_checksums")][-1]
    scratch = "tamper_scratch"

    def pg(*argv: str, **kwargs) -> subprocess.CompletedProcess:
        check = kwargs.pop("check", False)
        return subprocess.run([*compose_argv(seeded), "exec", "-T", "postgres", *argv], capture_output=True,
                              check=check, **kwargs)  # fmt: skip

    pg("createdb", scratch, check=True)
    try:
        with (backups / meta["file"]).open("rb") as fh:
            pg("pg_restore", "--no-owner", "-d", scratch, stdin=fh, check=True)
        # One bit of the newest message's first letter flipped: the row count and everything else unchanged.
        newest = "(SELECT max(id) FROM messages)"
        alter = f"UPDATE messages SET body = chr(ascii(body) # 1) || substr(body, 2) WHERE id = {newest}"  # noqa: S608
        pg("psql", "-d", scratch, "-c", alter, check=True)
        altered = pg("pg_dump", "--format=custom", scratch, check=True).stdout
    finally:
        pg("dropdb", "--if-exists", scratch)
    copy_id = meta["id"].replace("-manual", "-manual-altered")
    (backups / f"{copy_id}.dump").write_bytes(altered)
    copy = dict(meta, id=copy_id, file=f"{copy_id}.dump", size=len(altered), sha256=hashlib.sha256(altered).hexdigest())
    (backups / f"{copy_id}.json").write_text(json.dumps(copy))
    side = "saas_db_restore_20000101_000001"
    args = dict(state="side", dir=str(backups), id=copy_id, compose_argv=compose_argv(seeded), database="saas_db",
                side=side, tables=list(TABLES))  # fmt: skip
    rc, res = seeded.module("db_restore", args)
    assert rc != 0
    assert "messages rows differ from the backup's (checksum)" in res["msg"] and "\n" not in res["msg"], res["msg"]
    listed = pg("psql", "-At", "-d", "postgres", "-c", "SELECT datname FROM pg_database", text=True).stdout.split()
    assert side not in listed
    fault_result.update(rows_lost=0)


def test_a_table_named_in_mixed_case_is_counted_as_the_database_has_it(seeded):
    """Prisma's "User", "Chat" and "Message": to_regclass folds an unquoted name to lower case, which would
    make such a table look absent (no count, no check)."""
    sql = """CREATE TABLE "AuditLog" (id serial PRIMARY KEY, what text);
             INSERT INTO "AuditLog" (what) VALUES ('a'), ('b'), ('c');"""
    seeded.compose("exec", "-T", "postgres", "psql", "-v", "ON_ERROR_STOP=1", "-d", "saas_db", "-c", sql)
    run = seeded.playbook("backup", rollback_backup_tables=["users", "AuditLog"])
    assert run.rc == 0, run.output
    meta = sidecars(seeded)[-1]
    assert meta["row_counts"] == {"users": count(seeded, "users"), "AuditLog": 3}
    assert set(meta["row_checksums"]) == {"users", "AuditLog"}
    # No tables named (the default): every table of the database, each under the name it has there, in a
    # schema of its own too; whatever the database holds is what the sidecar records.
    sql = """CREATE SCHEMA billing; CREATE TABLE billing."Invoice" (id serial PRIMARY KEY);
             INSERT INTO billing."Invoice" DEFAULT VALUES;"""
    seeded.compose("exec", "-T", "postgres", "psql", "-v", "ON_ERROR_STOP=1", "-d", "saas_db", "-c", sql)
    tables_sql = ("SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
                  " AND table_schema NOT IN ('pg_catalog', 'information_schema')")  # fmt: skip
    listed = seeded.compose("exec", "-T", "postgres", "psql", "-At", "-d", "saas_db", "-c", tables_sql)
    every = {name if schema == "public" else f"{schema}.{name}"
             for schema, name in (line.split("|") for line in listed.stdout.split())}  # fmt: skip
    run = seeded.playbook("backup", rollback_backup_tables=[])
    assert run.rc == 0, run.output
    meta = sidecars(seeded)[-1]
    assert set(meta["row_counts"]) == every and {"users", "AuditLog", "billing.Invoice"} <= every, meta
    assert meta["row_counts"]["AuditLog"] == 3 and meta["row_counts"]["billing.Invoice"] == 1
    assert set(meta["row_checksums"]) == every


# A database container as the official postgres image runs it: `docker exec` is root, which is no database
# role; the superuser is POSTGRES_USER and the socket trusts local connections.
ROOT_EXEC_DB = """
services:
  db:
    image: mysaas/postgres:15
    user: root
    environment: {POSTGRES_USER: appowner}
    command:
      - runuser
      - -u
      - postgres
      - --
      - sh
      - -c
      - >-
        initdb -D "$$PGDATA" -U appowner --auth-local=trust >/dev/null
        && exec postgres -D "$$PGDATA" -c listen_addresses=''
    healthcheck:
      test: [CMD, runuser, -u, postgres, --, pg_isready, -U, appowner, -d, postgres]
      interval: 1s
      retries: 60
"""


def test_a_database_container_whose_exec_user_is_root_is_backed_up_as_its_postgres_user(seeded, tmp_path):
    project = seeded.project + "rootdb"
    (tmp_path / "compose.yml").write_text(ROOT_EXEC_DB)
    argv = ["docker", "compose", "--project-name", project, "--project-directory", str(tmp_path),
            f"--file={tmp_path}/compose.yml"]  # fmt: skip
    try:
        subprocess.run([*argv, "up", "-d", "--wait"], check=True, capture_output=True, timeout=120)
        plain = subprocess.run([*argv, "exec", "-T", "db", "psql", "-At", "-c", "SELECT 1"], capture_output=True,
                               text=True, check=False)  # fmt: skip
        assert plain.returncode != 0 and 'role "root" does not exist' in plain.stderr  # what a team hits today
        sql = "CREATE TABLE notes (id int); INSERT INTO notes VALUES (1), (2);"
        subprocess.run([*argv, "exec", "-T", "-e", "PGUSER=appowner", "db", "psql", "-d", "postgres", "-c", sql],
                       check=True, capture_output=True)  # fmt: skip
        rc, res = seeded.module("db_backup", dict(dir=str(tmp_path / "backups"), compose_argv=argv, service="db",
                                                  database="postgres", tables=["notes"]))  # fmt: skip
        assert rc == 0, res.get("msg")
        assert res["backup"]["verified"] is True and res["backup"]["row_counts"] == {"notes": 2}
        rc, res = seeded.module("db_backup", dict(dir=str(tmp_path / "backups"), compose_argv=argv, service="db",
                                                  database="postgres", db_user="nobody_here"))  # fmt: skip
        assert rc != 0 and 'role "nobody_here" does not exist' in res["msg"], res
    finally:
        subprocess.run([*argv, "down", "--volumes", "--timeout", "5"], capture_output=True, check=False)
