#!/usr/bin/env python3
"""Backups and restores on a large database, and the downtime of Procedure B as users see it.

A staging stack of its own runs v1.2.3. Procedure B is run twice with traffic flowing: once on the
small database the traffic made, once after the database has been grown to --size-mb with generated
chats and messages. In between, on the large database, the collection's backup (pg_dump inside the
container, hashed on the way, archive listed, rows counted) and restore (into a side database, with
--jobs, row counts checked) are timed against a plain `pg_dump -Fc` / `pg_restore` of the same data.
Prints figures; asserts nothing. `make bench-restore` runs it.

Procedure B's window is the longest time without a good answer, between two answers: the requests answered
502/503/504 by the proxy or the gateway in its place (the staging proxy's maintenance answer) or held by the proxy
until the gateway came back fall in it; so would those not answered at all (connection errors, timeouts, counted
on their own: there should be none).
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
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "demo"), str(ROOT / ".collections")]

from stack import Stack
from traffic import downtime, longest_wait

from ansible_collections.runbook.rollback.plugins.module_utils import backup, restore

NO_ANSWER = {"connection error", "timeout"}
UNREACHABLE = NO_ANSWER | {502, 503, 504}
TABLES = ["users", "chats", "messages", "subscriptions"]
# Messages of about 250 bytes on disk each; hex text compresses about twofold, like real chat text.
# Ids are not contiguous (Procedure B moves the restored sequences past the ids handed out since the backup): the
# new rows take existing ids from arrays of them.
GROW_SQL = """
INSERT INTO users (email, password_hash)
  SELECT 'bench' || i || '@example.test', md5(i::text) FROM generate_series(1, {users}) AS i;
INSERT INTO chats (owner_id, title)
  SELECT u.ids[1 + i % cardinality(u.ids)], 'bench chat ' || i
  FROM (SELECT array_agg(id) AS ids FROM users) AS u, generate_series(1, {chats}) AS i;
INSERT INTO messages (chat_id, author_id, body)
  SELECT c.ids[1 + i % cardinality(c.ids)], u.first,
         md5(i::text) || md5((i * 7)::text) || md5((i * 13)::text) || md5((i * 17)::text)
  FROM (SELECT array_agg(id) AS ids FROM chats) AS c, (SELECT min(id) AS first FROM users) AS u,
       generate_series(1, {messages}) AS i;
ANALYZE;
"""


def timed(fn, *args, **kwargs):
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return time.monotonic() - started, result


def compose(stack: Stack) -> backup.Compose:
    argv = ["docker", "compose", "--project-name", stack.project, "--project-directory", str(stack.app_dir),
            f"--file={stack.app_dir}/docker-compose.prod.yml"]  # fmt: skip
    return backup.Compose(argv, "postgres", {"GATEWAY_PORT": str(stack.port)}, timeout=7200)


def psql(stack: Stack, sql: str, database: str = "saas_db") -> str:
    argv = ["exec", "-T", "postgres", "psql", "-v", "ON_ERROR_STOP=1", "-At", "-d", database, "-c", sql]
    done = stack.compose(*argv, check=False)
    if done.returncode != 0:
        raise SystemExit("bench: psql failed: " + done.stderr.strip()[-500:])
    return done.stdout


def grow(stack: Stack, size_mb: int) -> int:
    messages = size_mb * 4000
    sql = GROW_SQL.format(users=max(1000, messages // 100), chats=max(1000, messages // 20), messages=messages)
    psql(stack, sql)
    return int(psql(stack, "SELECT pg_database_size('saas_db')").strip())


def plain_dump_restore(stack: Stack, c: backup.Compose, work: Path) -> dict:
    """pg_dump -Fc to a host file, then pg_restore of it into a new database, nothing else."""
    dump = work / "plain.dump"
    started = time.monotonic()
    with dump.open("wb") as out:
        subprocess.run(c.exec_argv("pg_dump", "--format=custom", "--dbname=saas_db"), stdout=out, env=c.env, check=True)
    dump_s = time.monotonic() - started
    psql(stack, "CREATE DATABASE plain_restore OWNER saas", "postgres")
    started = time.monotonic()
    with dump.open("rb") as fh:
        subprocess.run(c.exec_argv("pg_restore", "--no-owner", "--role=saas", "--dbname=plain_restore"), stdin=fh,
                       env=c.env, check=True)  # fmt: skip
    restore_s = time.monotonic() - started
    psql(stack, "DROP DATABASE plain_restore", "postgres")
    size = dump.stat().st_size
    dump.unlink()
    return {"dump_s": dump_s, "restore_s": restore_s, "size": size}


def ours(stack: Stack, c: backup.Compose, work: Path, jobs: int) -> dict:
    directory = str(work / f"backups-{jobs}")
    take_s, meta = timed(backup.take, c, directory, "saas_db", TABLES, "manual", "v1.2.3")
    side = "saas_db_restore_%s" % restore.stamp_of()
    restore_s, _ = timed(restore.restore_side, c, directory, meta, "saas_db", side, "saas", TABLES, jobs=jobs)
    restore.drop_side(c, "saas_db", side)
    shutil.rmtree(directory)
    return {"dump_s": take_s, "restore_s": restore_s, "size": meta["size"]}


def procedure_b_with_traffic(stack: Stack, label: str) -> dict:
    run = stack.playbook("deploy", version="v1.3.0", deploy_fail_on_verify=False)
    if run.rc != 0:
        raise SystemExit("bench: deploying v1.3.0 failed:\n" + run.output[-3000:])
    out = stack.root / f"traffic-b-{uuid.uuid4().hex[:6]}.json"
    traffic = subprocess.Popen(
        [sys.executable, str(ROOT / "demo" / "traffic.py"), "--url", f"http://127.0.0.1:{stack.port}",
         "--duration", "3600", "--rate", "40", "--out", str(out)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(2)  # baseline traffic before the procedure starts
    started = time.monotonic()
    run = stack.playbook("procedure_b", incident=f"bench-{label}")
    seconds = time.monotonic() - started
    if run.rc != 0:
        # The figures of a failed run are still printed; why it failed, too.
        print(f"  Procedure B failed (rc {run.rc}): " + " | ".join(w[:400] for w in run.why_failed()[-3:]), flush=True)
    time.sleep(2)  # and after it ends, so that recovery is in the samples
    traffic.send_signal(signal.SIGTERM)
    traffic.wait(timeout=60)
    samples = json.loads(out.read_text())["samples"]
    total, _ = downtime([(s["t"], s["status"] in UNREACHABLE) for s in samples])
    longest = longest_wait(samples, lambda status: status in UNREACHABLE)
    size = int(psql(stack, "SELECT pg_database_size('saas_db')").strip())
    steps = {}
    timeline = stack.timelines / "latest.json"
    if timeline.exists():
        steps = {s["name"]: s["duration"] for s in json.loads(timeline.read_text())["steps"]}
    return {
        "label": label, "rc": run.rc, "procedure_s": seconds, "db_size": size, "requests": len(samples),
        "unreachable": sum(s["status"] in UNREACHABLE for s in samples), "unreachable_s": total, "longest_s": longest,
        "no_answer": sum(s["status"] in NO_ANSWER for s in samples),
        "side_s": steps.get("restore_side", 0.0), "swap_to_healthy_s": sum(
            steps.get(n, 0.0) for n in ("restore_swap", "checkout", "restore_migrations", "staged_restart_prepared",
                                        "staged_restart")),
    }  # fmt: skip


def mib(size: float) -> str:
    return f"{size / 1048576:.0f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300, help="approximate size of the large database (default 300)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="rbbench-b-"))
    work = root / "work"
    work.mkdir()
    stack = Stack(root, f"rbbenchb{uuid.uuid4().hex[:6]}", echo=False)
    try:
        if stack.playbook("deploy", version="v1.2.3").rc != 0:
            print("bench: could not deploy v1.2.3", file=sys.stderr)
            return 1
        with stack.traffic(seconds=5, rate=20) as users:
            users.wait(timeout=60)
        print("Procedure B on the small database ...", flush=True)
        runs = [procedure_b_with_traffic(stack, "small")]
        print(f"Growing the database to about {args.size_mb} MB ...", flush=True)
        grown = grow(stack, args.size_mb)
        print(f"  {mib(grown)} on disk; timing backups and restores ...", flush=True)
        c = compose(stack)
        copies = {"plain pg_dump / pg_restore": plain_dump_restore(stack, c, work)}
        for jobs in (1, 2, 4):
            copies[f"db_backup / db_restore, jobs {jobs}"] = ours(stack, c, work, jobs)
        print("Procedure B on the large database ...", flush=True)
        runs.append(procedure_b_with_traffic(stack, "large"))
    finally:
        stack.destroy()
        shutil.rmtree(root, ignore_errors=True)

    print(f"\nBackup and restore of a {mib(grown)} database (the same data each time)")
    print(f"{'method':<34}{'dump':>10}{'restore':>10}{'archive':>11}")
    for name, r in copies.items():
        print(f"{name:<34}{r['dump_s']:>9.1f}s{r['restore_s']:>9.1f}s{mib(r['size']):>11}")
    print("  db_backup also hashes the dump, lists the archive and counts rows; db_restore restores into a side")
    print("  database and checks its row counts, then ANALYZEs it. Both run while the application serves.")

    print("\nProcedure B, v1.3.0 -> v1.2.3 with the pre-deploy backup, traffic at 40 requests/s")
    print(f"{'database':<10}{'rc':>4}{'size':>10}{'procedure':>11}{'side copy':>11}{'swap->healthy':>15}"
          f"{'no answer':>11}{'5xx':>6}{'window':>9}")  # fmt: skip
    for r in runs:
        print(f"{r['label']:<10}{r['rc']:>4}{mib(r['db_size']):>10}{r['procedure_s']:>10.1f}s{r['side_s']:>10.1f}s"
              f"{r['swap_to_healthy_s']:>14.1f}s{r['no_answer']:>11}{r['unreachable'] - r['no_answer']:>6}"
              f"{r['longest_s']:>8.2f}s")  # fmt: skip
    print("  The side copy runs while v1.3.0 still serves. The window is the stop, the swap and the start of the")
    print("  containers created before the stop; swap->healthy also counts the checkout and the staged restart after.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
