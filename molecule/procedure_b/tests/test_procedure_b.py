"""After the Procedure B drill: the data v1.3.0's migration destroyed is back, the code is v1.2.3 again,
what users wrote on v1.3.0 is kept and exported, and nothing was lost on the way."""

import csv
import io
import os

from drill_checks import DATA_SERVICES, INCIDENTS, STATE, TIMELINES, get, history, read_json

PROJECT = "drill-procedure-b"
GATEWAY = "http://127.0.0.1:18092"
# Procedure B's steps, in the order the timeline records them: the release's containers are created and its
# migrations checked against the restored copy before the swap; the prepared containers start right after it, and
# the checkout follows.
STEPS = [
    "assess", "restore_select", "preflight", "restore_check", "backup", "restore_side", "staged_restart_prepare",
    "restore_migrations", "restore_swap", "staged_restart_prepared", "checkout", "staged_restart", "restore_database",
    "verify", "restore_reconcile", "history",
]  # fmt: skip


def _sidecars(host):
    names = host.check_output("ls -1 %s", STATE + "/backups").splitlines()
    return [read_json(host, os.path.join(STATE, "backups", n)) for n in sorted(names) if n.endswith(".json")]


def _postgres(host):
    return host.check_output(
        "docker ps -q --filter label=com.docker.compose.project=%s --filter label=com.docker.compose.service=postgres",
        PROJECT,
    )


def _sql(host, sql, database="saas_db"):
    return host.check_output("docker exec %s psql -At -d %s -c %s", _postgres(host), database, sql)


def test_the_good_release_serves_again(host):
    for path in ("/health", "/api/auth/health", "/api/chats/health", "/api/billing/health"):
        answer = get(host, GATEWAY + path)
        assert (answer["status"], answer["body"]["version"]) == (200, "v1.2.3"), path


def test_the_decision_was_procedure_b_for_the_migration(host):
    decision = read_json(host, INCIDENTS + "/drill/decision.json")
    assert (decision["decision"], decision["procedure"], decision["running_version"]) == ("rollback_now", "B", "v1.3.0")
    assert decision["schema"].startswith("migrations changed since v1.2.3")


def test_the_destroyed_chats_are_back(host):
    # The known user's chat was written on v1.2.3 and dropped by v1.3.0's migration 0003.
    titles = _sql(host, "SELECT title FROM chats").splitlines()
    assert "chat of the known user" in titles
    assert _sql(host, "SELECT count(*) FROM schema_migrations WHERE version LIKE '0003%'") == "0"


def test_every_key_table_holds_at_least_the_backups_rows(host):
    pre = [m for m in _sidecars(host) if m["tag"] == "pre_deploy"][-1]
    for table, rows in pre["row_counts"].items():
        assert int(_sql(host, "SELECT count(*) FROM %s" % table)) >= rows, table  # noqa: S608 - sidecar table names


def test_history_records_procedure_b_with_the_backup_and_the_kept_database(host):
    last = history(host)[-1]
    pre = [m for m in _sidecars(host) if m["tag"] == "pre_deploy"][-1]
    assert (last["action"], last["procedure"], last["result"]) == ("rollback", "B", "verified")
    assert (last["version"], last["from_version"], last["restored_backup"]) == ("v1.2.3", "v1.3.0", pre["id"])
    assert not set(DATA_SERVICES) & set(last["restarted"]), last["restarted"]
    emergency = [m for m in _sidecars(host) if m["id"] == last["backup"]]
    assert emergency and (emergency[0]["tag"], emergency[0]["version"]) == ("before_rollback", "v1.3.0")


def test_what_users_wrote_on_the_broken_release_is_kept_and_exported(host):
    kept = history(host)[-1]["kept_database"]
    assert _sql(host, "SELECT count(*) FROM chats WHERE title = 'written after the deployment'", kept) == "1"
    export = INCIDENTS + "/drill/reconciliation"
    users = host.file(export + "/users.csv").content_string
    emails = [row["email"] for row in csv.DictReader(io.StringIO(users, newline=""))]
    assert "drill.late@example.test" in emails
    assert "written after the deployment" in host.file(export + "/chats.csv").content_string
    assert host.file(export + "/messages.csv").mode == 0o640


def test_the_known_user_can_log_in(host):
    code = (
        "import json, urllib.request, sys;"
        "req = urllib.request.Request(sys.argv[1], data=json.dumps({'email': 'drill.known@example.test',"
        " 'password': 'drill-known-password-1'}).encode(), headers={'Content-Type': 'application/json'});"
        "print(urllib.request.urlopen(req, timeout=5).status)"
    )
    assert host.check_output("python3 -c %s %s", code, GATEWAY + "/api/auth/login") == "200"


def test_timeline_reports_every_step(host):
    names = sorted(n for n in host.check_output("ls -1 %s", TIMELINES).splitlines() if n.endswith("-converge.json"))
    timeline = read_json(host, os.path.join(TIMELINES, names[0]))
    assert timeline["status"] == "ok"
    steps = {step["name"]: step for step in timeline["steps"]}
    assert [name for name in steps if name in STEPS] == STEPS
    for name in STEPS:
        assert steps[name]["status"] in ("ok",), steps[name]


def test_the_incident_report_shows_each_step_against_its_budget_and_the_backups(host):
    incident = os.path.join(INCIDENTS, "drill")
    report = read_json(host, os.path.join(incident, "report.json"))
    assert (report["procedure"], report["status"]) == ("B", "ok")
    steps = {step["name"]: step for step in report["steps"]}
    assert all(name in steps for name in STEPS), sorted(steps)
    assert steps["backup"]["budget"] == {"low": 120, "high": 120}
    assert {backup["role"] for backup in report["backups"]} == {"emergency backup", "restored", "kept database"}
    items = {item["item"]: item for checklist in report["checklists"] for item in checklist["items"]}
    for done in ("Backup verified (if database rollback needed)", "Emergency backup created",
                 "Code rolled back (or database restored)", "Health checks passing"):
        assert items[done]["state"] == "done" and items[done]["at"], items[done]
    assert any("reconcile" in follow_up for follow_up in report["follow_ups"])
    assert host.file(os.path.join(incident, "postmortem.md")).contains("## Action Items")
