"""A second app, tried the way a new team would: its own compose app (tests/integration/shop: services built
with no image name, a database container whose exec user is root, a mixed-case table, a plain `ok` health
answer, no version and no figures, other service and stage names), started by hand, then adopted and rolled
back with Procedures A, C and B. Its inventory holds only settings the README's "Using it on your own stack"
lists, and none of the staging app's (inventory/staging_app is not a source here)."""

from __future__ import annotations

import gzip
import json

import pytest
from fixtures import s3_server
from shopstack import ShopStack, git
from stack import new_stack

BUCKET = "shop-dumps"
SECRET = "shop-s3-secret-never-printed"


@pytest.fixture(scope="module")
def shop():
    with new_stack(kind=ShopStack, project="rbshop") as st:
        yield st


def fatal_line(run) -> str:
    """The msg of the last failed task, from the run's events."""
    failed = run.failed_tasks()
    assert failed, run.output[-3000:]
    return failed[-1]


def test_a_stack_started_by_hand_is_adopted_as_the_release_it_runs(shop):
    git(shop.app_dir, "checkout", "--quiet", "--detach", "refs/tags/v1.0.0")
    up = shop.compose("up", "--detach", "--wait", "--wait-timeout", "300", "--build", check=False)
    assert up.returncode == 0, up.stderr[-2000:]
    # Another tool's dumps of the database as it was after each order: plain SQL as pg_dump writes it by
    # default on the host; the same gzipped in an S3 bucket (a local S3 server), beside files that are not dumps.
    nightly = shop.root / "nightly"
    nightly.mkdir()
    with s3_server(BUCKET, SECRET) as (url, client):
        for item, name in (("tea", "shop-1.sql"), ("cake", "shop-2.sql.gz")):
            assert shop.http("POST", "/orders", {"item": item})[0] == 201
            dump = shop.compose("exec", "-T", "db", "runuser", "-u", "postgres", "--", "pg_dump", "-U", "shop",
                                "shop", text=False).stdout  # fmt: skip
            if name.endswith(".gz"):
                for key, body in ((f"weekly/{name}", gzip.compress(dump)), ("weekly/README.txt", b"x"),
                                  ("weekly/old/shop-0.sql", b"not fetched")):  # fmt: skip
                    client.put_object(Bucket=BUCKET, Key=key, Body=body)
            else:
                (nightly / name).write_bytes(dump)
        stored = client.head_object(Bucket=BUCKET, Key="weekly/shop-2.sql.gz")["LastModified"]
        shop.write_group_vars(rollback_backup_s3={
            "endpoint_url": url, "region": "us-east-1", "access_key": "test", "secret_key": SECRET})  # fmt: skip
        running = shop.containers()

        # A compose file edited on the host: what runs may not be the release; refused, nothing written.
        compose = shop.app_dir / "compose.yaml"
        compose.write_text(compose.read_text() + "# tuned by hand\n")
        run = shop.playbook("adopt", dumps=str(nightly))
        assert run.rc != 0 and "local changes to compose.yaml in " in fatal_line(run)
        assert shop.history() == [] and shop.containers() == running
        assert not (shop.state_dir / "backups").exists()
        git(shop.app_dir, "checkout", "--quiet", "--", "compose.yaml")
        # A prefix with no dump: refused in one line before the lock, nothing imported from the other source.
        run = shop.playbook("adopt", dumps=f"{nightly},s3://{BUCKET}/monthly")
        assert run.rc != 0 and f"no dump directly under s3://{BUCKET}/monthly " in fatal_line(run), run.output[-2000:]
        assert shop.history() == [] and not (shop.state_dir / "backups").exists()

        run = shop.playbook("adopt", dumps=f"{nightly}, s3://{BUCKET}/weekly/")
    assert run.rc == 0, run.output[-3000:]
    assert SECRET not in run.output
    (entry,) = shop.history()
    # The dumps are backups a restore can use: custom-format archives with sidecars, their rows counted.
    sidecars = [json.loads(p.read_text()) for p in sorted((shop.state_dir / "backups").glob("*-imported-*.json"))]
    assert sorted((s["imported_from"], s["row_counts"]["Order"]) for s in sidecars) == [
        ("s3://shop-dumps/weekly/shop-2.sql.gz", 2), ("shop-1.sql", 1)]  # fmt: skip
    # The fetched copy is gone; the bucket's time is the backup's, not the fetch's.
    assert [(s["created_at"], s["created_at_from"]) for s in sidecars if s["imported_from"].startswith("s3:")] == [
        (stored.strftime("%Y-%m-%dT%H:%M:%SZ"), "origin")]  # fmt: skip
    assert not (shop.state_dir / "import" / BUCKET / "weekly").exists()
    assert all(s["verified"] and s["version"] is None for s in sidecars), sidecars
    listing = shop.playbook("restore", list=True)
    assert listing.rc == 0 and all(s["id"] in listing.output for s in sidecars), listing.output[-3000:]
    assert (entry["version"], entry["procedure"], entry["result"]) == ("v1.0.0", "adopt", "verified")
    # Nothing restarted; the builds that run are kept as v1.0.0's own.
    assert shop.containers() == running
    assert shop.runs_build("api", "v1.0.0") and shop.runs_build("worker", "v1.0.0")
    # The plain `ok` health answer reports no release: healthy, and said unchecked.
    assert "release not checked (no version reported): api" in run.output


def test_procedure_c_puts_the_crashing_built_worker_back_on_its_last_good_build(shop):
    # Put live the plain way: side by side, the stage's new containers would go with the worker's, and v1.0.0 serve on.
    run = shop.playbook("deploy", version="v1.1.0", deploy_fail_on_verify=False, rollback_stage_timeout=20,
                        rollback_replace="plain")  # fmt: skip
    assert shop.history()[-1]["result"] == "failed", run.output[-3000:]
    assert shop.http("GET", "/code") == (200, "v1.1.0")
    api = shop.containers()["api"]

    run = shop.playbook("procedure_c")
    assert run.rc == 0, run.output[-3000:]
    # The worker runs v1.0.0's own build; the rest of the stack stays on v1.1.0, not restarted.
    assert shop.runs_build("worker", "v1.0.0")
    assert shop.containers()["api"] == api and shop.http("GET", "/code") == (200, "v1.1.0")


def test_procedure_a_with_no_version_goes_back_to_the_adopted_releases_own_code(shop):
    run = shop.playbook("procedure_a")
    assert run.rc == 0, run.output[-3000:]
    # The build-only API runs v1.0.0's code again, not v1.1.0's under the same compose name; the pin is gone.
    assert shop.http("GET", "/code") == (200, "v1.0.0")
    assert shop.runs_build("api", "v1.0.0") and shop.runs_build("worker", "v1.0.0")
    assert shop.read(shop.state_dir / "pins.compose.yml") in (None, "")
    assert shop.http("POST", "/orders", {"item": "after A"})[0] == 201
    last = shop.history()[-1]
    assert (last["version"], last["action"], last["result"]) == ("v1.0.0", "rollback", "verified")
    # No figure was published: verify said so instead of failing.
    assert "not measured: no error-rate source set" in run.output


def test_procedure_b_restores_the_orders_a_migration_lost(shop):
    before = shop.orders()
    assert before >= 3
    run = shop.playbook("deploy", version="v1.2.0", deploy_fail_on_verify=False)
    assert shop.history()[-1]["result"] == "failed", run.output[-3000:]
    assert shop.orders() == 0
    backups = sorted((shop.state_dir / "backups").glob("*-pre_deploy-*.json"))
    assert backups, run.output[-3000:]
    # The backup counted every table, the mixed-case one under its own name.
    assert json.loads(backups[-1].read_text())["row_counts"]["Order"] == before

    run = shop.playbook("procedure_b")
    assert run.rc == 0, run.output[-3000:]
    # Every order back, and the one Procedure B's smoke step placed after the restore.
    assert shop.orders() == before + 1
    # The backup was taken on v1.0.0, the last good release: it runs again, on its own build.
    assert shop.http("GET", "/code") == (200, "v1.0.0")
    assert shop.runs_build("api", "v1.0.0") and shop.runs_build("worker", "v1.0.0")
