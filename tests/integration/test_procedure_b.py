"""Procedure B and restore.yml on the staging stack's real PostgreSQL.

v1.2.3 with data and a known user -> deploy v1.3.0 (its migration drops every chat and message; the
pre-deploy backup is the only copy) -> users keep writing -> procedure_b. Before that, every way the
restore can be refused or fail must leave the running containers and the production database as they
were. The tests share one stack and run in file order."""

from __future__ import annotations

import datetime
import hashlib
import json
import shutil
import urllib.error
import urllib.request

import pytest
from data import api, broken_with_data, counts, databases, psql, sidecars, write_as_user
from engine_events import ContainerEvents
from receiver import (
    assert_completed,
    assert_failed,
    assert_no_secret,
    assert_started,
    by_channel,
    incident_of,
    notifying,
    slack_texts,
)
from reports import assert_report

KNOWN_USER = {"email": "known.user@example.test", "password": "Known-user-pass-1"}
LATE_USER = "late.user@example.test"
LATE_PASSWORD = "Late-user-pass-1"
LATE_CHAT = "written after the deployment"
LATE_MESSAGE = "a message only the kept database has"


def untouched(stack, containers_before, counts_before) -> None:
    """What a refused or failed restore must leave: the same containers, the same data, no extra database."""
    assert stack.containers() == containers_before
    assert counts(stack) == counts_before
    assert [d for d in databases(stack) if "_restore_" in d or "_before_rollback_" in d] == []
    assert stack.get("/health")[1].get("version") == "v1.3.0"


@pytest.fixture(scope="module")
def broken(stack):
    late = {"email": LATE_USER, "password": LATE_PASSWORD, "chat": LATE_CHAT, "message": LATE_MESSAGE}
    return broken_with_data(stack, KNOWN_USER, late)


def copy_backup(stack, pre: dict, new_id: str, edit=None) -> str:
    """A copy of the pre-deploy backup under another id (the original is never damaged)."""
    backups = stack.state_dir / "backups"
    meta = dict(pre, id=new_id, file=new_id + ".dump", created_at="2020-01-01T00:00:00Z")
    shutil.copyfile(backups / pre["file"], backups / meta["file"])
    if edit:
        edit(backups / meta["file"], meta)
    (backups / (new_id + ".json")).write_text(json.dumps(meta))
    return new_id


def truncate(path, meta):
    path.write_bytes(path.read_bytes()[: meta["size"] // 2])


def flip_last_byte(path, meta):
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))


def miscount(path, meta):
    meta["row_counts"] = dict(meta["row_counts"], users=meta["row_counts"]["users"] + 1)


def ghost_grant(stack):
    """A dump that verifies but cannot be restored: it grants to a role that no longer exists."""

    def edit(path, meta):
        for sql in ("CREATE ROLE ghost", "CREATE DATABASE ghostdb"):
            psql(stack, sql, "postgres")
        psql(stack, "CREATE TABLE users (id int); GRANT SELECT ON users TO ghost", "ghostdb")
        proc = stack.compose("exec", "-T", "postgres", "pg_dump", "--format=custom", "ghostdb", text=False).stdout
        for sql in ("DROP DATABASE ghostdb", "DROP ROLE ghost"):
            psql(stack, sql, "postgres")
        path.write_bytes(proc)
        meta.update(size=len(proc), sha256=hashlib.sha256(proc).hexdigest(), row_counts={"users": 0})

    return edit


@pytest.mark.fault(
    "A backup that cannot be trusted or restored, or no disk for it",
    how="the dump, its sidecar or the disk damaged for real",
    holds="refused or failed in one line; same containers, same data, no extra database; the team told if it had been",
)
@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("truncated", "size"),
        ("wrong-checksum", "does not match the recorded"),
        ("missing", "no backup '20200101T000000Z-manual-missing'"),
        ("count-mismatch", "does not match backup"),
        ("failing-restore", "failed"),
        ("no-disk", "free"),
    ],
)
def test_a_bad_backup_or_failing_restore_changes_nothing(broken, stack, case, expected):
    backup = f"20200101T000000Z-manual-{case}"
    extra = {}
    if case == "truncated":
        copy_backup(stack, broken, backup, truncate)
    elif case == "wrong-checksum":
        copy_backup(stack, broken, backup, flip_last_byte)
    elif case == "count-mismatch":
        copy_backup(stack, broken, backup, miscount)
    elif case == "failing-restore":
        copy_backup(stack, broken, backup, ghost_grant(stack))
    elif case == "no-disk":
        backup = broken["id"]
        extra["restore_space_margin"] = 1e9
    containers, data = stack.containers(), counts(stack)
    with notifying(stack) as receiver:
        run = stack.playbook("procedure_b", backup=backup, **extra, incident=f"inc-b-{case}")
        sent = by_channel(receiver.take())
    assert run.rc != 0
    fatal = [msg for msg in run.failed_tasks() if "Procedure B failed" in msg]
    assert fatal and expected in fatal[-1], run.output[-3000:]
    message = fatal[-1]
    # A backup that does not exist is refused before the database's name is looked up in its container.
    named = "The production database " + ("" if case == "missing" else "saas_db ") + "is untouched"
    assert "\n" not in message and named in message, message
    untouched(stack, containers, data)
    if case in ("count-mismatch", "failing-restore"):
        # The side restore had begun, after the team was told "in progress": it is told the rollback failed,
        # with the production database untouched, and the lead is paged (level 2).
        assert_started(sent, stack.project, "B", "v1.2.3", from_version="v1.3.0", minutes=20)
        assert_failed(sent, stack.project, "B", "v1.2.3", says="The production database saas_db is untouched")
        assert assert_no_secret(run.kept, stack.state_dir, stack.timelines) > 0
    else:
        # Refused while the backup was checked, before the rollback began: nobody was told or paged.
        assert sent == by_channel([]), sent
    # Production untouched: the stack is as it was, and there is no next step to propose.
    assert "Next:" not in message, message


def project_containers(stack) -> set[str]:
    label = f"label=com.docker.compose.project={stack.project}"
    return set(stack.host(["docker", "ps", "-aq", "--no-trunc", "--filter", label]).stdout.split())


def test_migrations_that_disagree_with_the_restored_copy_stop_the_run_before_anything_stops(broken, stack):
    # The release's containers are created before the stop, and its migrations checked against the restored copy:
    # here the check finds a migration the code does not ship (every "applied" line is taken for one), and the run
    # ends with the running containers untouched and the prepared ones gone.
    containers, data, ids = stack.containers(), counts(stack), project_containers(stack)
    run = stack.playbook("procedure_b", incident="inc-b-migrations", rollback_migration_mismatch="applied")
    assert run.rc != 0
    fatal = [msg for msg in run.failed_tasks() if "Procedure B failed" in msg]
    assert fatal and "do not match the restored saas_db" in fatal[-1], run.output[-3000:]
    assert "nothing was stopped" in fatal[-1] and "saas_db is untouched" in fatal[-1], fatal[-1]
    assert "created, not started: " in run.output
    untouched(stack, containers, data)
    assert project_containers(stack) == ids


def test_restore_list_shows_date_version_size_and_counts(broken, stack):
    run = stack.playbook("restore", list=True)
    assert run.rc == 0, run.output
    line = next(line for line in run.output.splitlines() if broken["id"] in line)
    assert broken["created_at"] in line and "v1.2.3" in line and "pre_deploy" in line
    assert f"messages {broken['row_counts']['messages']}" in line and "KiB" in line


def test_restore_without_a_backup_named_is_refused(broken, stack):
    containers = stack.containers()
    run = stack.playbook("restore")
    assert run.rc != 0 and "name the backup to restore" in run.output
    assert stack.containers() == containers


def test_a_known_user_without_its_login_step_is_refused_before_anything_changes(broken, stack):
    containers, data = stack.containers(), counts(stack)
    known = {"email": "known@example.test", "password": "Known-user-pass-9", "steps": ["sign_in"]}
    run = stack.playbook("procedure_b", rollback_known_user=known)
    assert run.rc != 0
    assert ("rollback_known_user logs in through the smoke step(s) sign_in, which rollback_smoke_steps does not "
            "have") in run.output, run.output[-3000:]  # fmt: skip
    untouched(stack, containers, data)


def test_procedure_b_plan_names_the_backup_and_changes_nothing(broken, stack):
    containers, rows, backups = stack.containers(), counts(stack), sidecars(stack)
    run = stack.playbook("procedure_b", plan=True)
    assert run.rc == 0, run.output
    plan = run.output.split("PLAN of Procedure B, nothing changed:", 1)[1]
    lines = {line.strip(' ",').split("  ", 1)[0]: line.strip(' ",') for line in plan.splitlines()[:14]}
    assert lines["backup"].startswith(f"backup        {broken['id']} (taken {broken['created_at']} on v1.2.3"), plan
    assert lines["release"].startswith("release       v1.3.0 -> v1.2.3 (the release the backup was taken on)"), plan
    assert "is replaced by the backup" in lines["data"] and "saas_db_before_rollback_" in lines["data"], plan
    assert "chat-service" in lines["stop"] and "postgres" not in lines["stop"], plan
    assert lines["keep running"].startswith("keep running  postgres, redis"), plan
    assert lines["to go ahead"] == f"to go ahead   ansible-playbook playbooks/procedure_b.yml -e backup={broken['id']}"
    # Nothing changed: no emergency backup, no side database, the same containers and rows, no lock.
    untouched(stack, containers, rows)
    assert sidecars(stack) == backups
    assert not (stack.state_dir / "lock").exists()


APPLICATION = ("auth-service", "chat-service", "billing-service", "analytics-service", "email-worker", "api-gateway",
               "frontend")  # fmt: skip


def assert_prepared(events, services, output: str) -> None:
    """Each service's new container was created while the old one served, and started only once the old one had
    stopped on its stop signal (the swap is between); the old one went. The release's migrations were checked
    before anything stopped."""
    for service in services:
        # Not the one-off container that checked the migrations (compose run: <project>-<service>-run-<id>).
        mine = [(name, action) for svc, name, action in events if svc == service and "-run-" not in name]
        created = [name for name, action in mine if action == "create"]
        assert len(created) == 1, mine
        new = created[0]
        (old,) = {name for name, _action in mine} - {new}
        wanted = ((new, "create"), (new, "start"), (old, "kill 15"), (old, "die"), (old, "destroy"))
        order = [(name, action) for name, action in mine if (name, action) in wanted]
        assert order == [(new, "create"), (old, "kill 15"), (old, "die"), (old, "destroy"), (new, "start")], mine
    assert "created, not started: " in output and "created before the stop and started right after it: " in output
    assert output.index("Take the check made against the restored copy before the stop") < output.index(
        "Stop every application container of the project")


def test_procedure_b_restores_the_pre_deploy_backup_and_loses_nothing(broken, stack):
    postgres_before, proxy_before = stack.containers()["postgres"], stack.containers()["proxy"]
    # A session of a user who registered after the backup: the restore removes the user, not the session.
    late_token = api(stack, "/api/auth/login", {"email": LATE_USER, "password": LATE_PASSWORD})["token"]
    with notifying(stack) as receiver, ContainerEvents(stack.project) as engine:
        # A maximum downtime of 15 s, as a matrix's would be of minutes: the restore runs past it.
        run = stack.playbook("procedure_b", incident="inc-b", notify_max_downtime_minutes=0.25, rollback_probe=True)
        sent = by_channel(receiver.take())
    assert run.rc == 0, run.output
    assert_prepared(engine.seen, APPLICATION, run.output)
    # While the restore ran, the downtime passed the maximum: level 2 was told then, by the progress process (the
    # team heard of it before the rollback's end), once, to every channel, PagerDuty included.
    texts = slack_texts(sent)
    (escalated,) = [t for t in texts if "ESCALATION" in t]
    assert texts.index(escalated) == 1 and "ROLLBACK COMPLETE" in texts[-1], texts
    assert f"ESCALATION on {stack.project} to level 2 (DevOps lead): the interruption (0m) passed the maximum " \
           "downtime of 0.25 min the decision matrix allows" in escalated  # fmt: skip
    assert [p["json"]["event_action"] for p in sent["pagerduty"]] == ["trigger", "resolve"]
    # The incident's state keeps the level, so that a later run does not escalate to it again.
    kept = json.loads(stack.read(stack.state_dir / "incidents" / "inc-b" / "notify.json"))
    assert kept["escalated_level"] == 2, kept
    sent = {channel: [m for m in got if (m["json"] or {}).get("event") != "escalation"
                      and "ESCALATION" not in json.dumps(m["json"], ensure_ascii=False)
                      and (m["json"] or {}).get("event_action") != "trigger"]
            for channel, got in sent.items()}  # fmt: skip
    # The team was told: in progress (ETA from B's 20 minutes, the lead), then complete on v1.2.3.
    assert_started(sent, stack.project, "B", "v1.2.3", from_version="v1.3.0", minutes=20)
    assert_completed(sent, stack.project, "B", "v1.2.3", from_version="v1.3.0")
    assert incident_of(sent) == "inc-b"
    assert assert_no_secret(run.kept, stack.state_dir, stack.timelines) > 0
    report = assert_report(
        stack.state_dir, "inc-b", "B", ("Step 1", "Step 2", "Steps 3-4", "Step 5", "Step 6", "Step 7")
    )
    # The proxy users reach (rollback_edge_services) kept running through the swap: every probe got an answer,
    # the maintenance answer (503) while the application was away, never a refused connection or a timeout.
    assert stack.containers()["proxy"] == proxy_before
    users = report["users"]
    assert users["unanswered"] == 0 and users["answered_5xx"] > 0, users
    # The report names the backup restored (the pre-deploy one), the emergency backup taken first, and the
    # database the restore replaced, kept.
    backups = {b["role"]: b for b in report["backups"]}
    assert set(backups) == {"emergency backup", "restored", "kept database"}, backups
    assert backups["restored"]["id"] == broken["id"]
    assert backups["kept database"]["id"].startswith("saas_db_before_rollback_")
    # The verification's smoke flows add one user, chat, message and subscription after the check
    # that every key table held exactly the backup's rows.
    assert counts(stack) == {t: n + 1 for t, n in broken["row_counts"].items()}
    assert "PASS  key tables" in run.output and "PASS  known user  login as known.user@example.test" in run.output
    assert stack.get("/health")[1].get("version") == "v1.2.3"
    assert stack.containers()["postgres"] == postgres_before
    api(stack, "/api/auth/login", KNOWN_USER)
    # The late user's session is taken for signed out (401), not a write that breaks a foreign key (500 each).
    with pytest.raises(urllib.error.HTTPError) as answer:
        api(stack, "/api/chats", {"title": "after the restore"}, token=late_token)
    assert answer.value.code == 401, answer.value.read()
    kept = [d for d in databases(stack) if d.startswith("saas_db_before_rollback_")]
    assert len(kept) == 1 and [d for d in databases(stack) if "_restore_" in d] == []
    # Ids handed out on the broken release are never handed out again (the smoke flows' new user).
    assert int(psql(stack, "SELECT max(id) FROM users")) > int(psql(stack, "SELECT max(id) FROM users", kept[0]))
    # The broken release's rows are still there, in the kept database.
    assert int(psql(stack, "SELECT count(*) FROM users WHERE email = 'late.user@example.test'", kept[0])) == 1
    export = stack.state_dir / "incidents" / "inc-b" / "reconciliation"
    assert LATE_USER in (export / "users.csv").read_text()
    assert LATE_CHAT in (export / "chats.csv").read_text()
    assert LATE_MESSAGE in (export / "messages.csv").read_text()
    emergency = [m for m in sidecars(stack) if m["tag"] == "before_rollback" and m["version"] == "v1.3.0"]
    assert emergency and (stack.state_dir / "backups" / emergency[-1]["file"]).exists()
    last = stack.history()[-1]
    assert (last["action"], last["procedure"], last["result"], last["version"]) == (
        "rollback",
        "B",
        "verified",
        "v1.2.3",
    )
    assert (last["restored_backup"], last["kept_database"], last["backup"]) == (
        broken["id"],
        kept[0],
        emergency[-1]["id"],
    )


def test_with_the_application_away_the_proxy_answers_maintenance(stack):
    """What users get from the staging proxy while Procedure B's swap has the application stopped."""
    stack.compose("stop", "api-gateway")
    try:
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"http://127.0.0.1:{stack.port}/api/chats", timeout=10)
        assert answer.value.code == 503 and answer.value.headers["Retry-After"] == "5"
        assert "Back in a moment" in answer.value.read().decode()
    finally:
        stack.compose("up", "--detach", "--wait", "--no-deps", "api-gateway")


def test_procedure_b_again_finds_nothing_to_undo(broken, stack):
    containers = stack.containers()
    run = stack.playbook("procedure_b")
    assert run.rc != 0 and "no deployment to undo" in run.output
    assert stack.containers() == containers


def test_restore_by_date_round_trip(broken, stack):
    assert stack.playbook("backup").rc == 0
    manual = [m for m in sidecars(stack) if m["tag"] == "manual" and not m["id"].startswith("2020")][-1]
    write_as_user(stack, "after.manual@example.test", "After-manual-1", "after the manual backup", "only kept")
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    run = stack.playbook("restore", backup_date=today, incident="inc-restore")
    assert run.rc == 0, run.output
    assert f"Backup {manual['id']}" in run.output
    assert counts(stack) == {t: n + 1 for t, n in manual["row_counts"].items()}
    export = stack.state_dir / "incidents" / "inc-restore" / "reconciliation"
    assert "after.manual@example.test" in (export / "users.csv").read_text()
    assert stack.get("/health")[1].get("version") == "v1.2.3"
