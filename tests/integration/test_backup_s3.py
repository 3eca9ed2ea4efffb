"""Backups copied to S3 and restored from there, against a local S3-compatible server (moto's), never
a real bucket: backup.yml uploads the dump and its sidecar; a host that lost them lists the bucket's
backups with restore.yml -e list=true and restores one by id."""

from __future__ import annotations

import hashlib
import json
import urllib.request

import pytest
from fixtures import s3_server

BUCKET = "runbook-backups"
SECRET = "s3-secret-value-never-printed"
TABLES = ("users", "chats", "messages", "subscriptions")


@pytest.fixture(scope="module")
def s3():
    with s3_server(BUCKET, SECRET) as server:
        yield server


def count(stack, table: str) -> int:
    sql = f"SELECT count(*) FROM {table}"  # noqa: S608 - the tests' own table names
    return int(stack.compose("exec", "-T", "postgres", "psql", "-At", "-d", "saas_db", "-c", sql).stdout)


def register(stack, email: str) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{stack.port}/api/auth/register", method="POST",
                                 data=json.dumps({"email": email, "password": "S3-test-pass-1"}).encode(),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    urllib.request.urlopen(req, timeout=10).close()  # noqa: S310 - http://127.0.0.1 only


def test_a_backup_goes_to_s3_and_comes_back_from_there(stack, s3):
    url, client = s3
    stack.write_group_vars(rollback_backup_s3={
        "bucket": BUCKET, "prefix": "postgres/", "endpoint_url": url, "region": "us-east-1",
        "access_key": "test", "secret_key": SECRET,
    })  # fmt: skip
    stack.seed("v1.2.3")
    with stack.traffic(seconds=5, rate=20) as users:
        users.wait(timeout=60)
    run = stack.playbook("backup")
    assert run.rc == 0, run.output
    assert SECRET not in run.output
    backups = stack.state_dir / "backups"
    (sidecar,) = backups.glob("*.json")
    meta = json.loads(sidecar.read_text())
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [f"postgres/{meta['id']}.dump", f"postgres/{meta['id']}.json"]
    body = client.get_object(Bucket=BUCKET, Key=f"postgres/{meta['id']}.dump")["Body"].read()
    assert hashlib.sha256(body).hexdigest() == meta["sha256"]

    # The host loses its copy; the bucket's is listed and restored.
    for path in backups.iterdir():
        path.unlink()
    run = stack.playbook("restore", list=True)
    assert run.rc == 0, run.output
    assert f"s3://{BUCKET}/postgres/{meta['id']}" in run.output and SECRET not in run.output

    register(stack, "after.s3.backup@example.test")
    run = stack.playbook("restore", backup=meta["id"], incident="inc-s3")
    assert run.rc == 0, run.output
    assert SECRET not in run.output
    assert oct((backups / f"{meta['id']}.dump").stat().st_mode & 0o777) == "0o640"
    # The verification's smoke flows add one of each after the restore.
    assert {t: count(stack, t) for t in TABLES} == {t: n + 1 for t, n in meta["row_counts"].items()}
    export = stack.state_dir / "incidents" / "inc-s3" / "reconciliation" / "users.csv"
    assert "after.s3.backup@example.test" in export.read_text()
    # The emergency backup went to the bucket too.
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert any("-before_rollback-v1.2.3.dump" in k for k in keys), keys
