"""The pure parts of a restore (module_utils/restore.py): names and quoting, which backup to restore, space.

Covered: check_db_name (plain identifiers of at most 63 characters), the side and kept names and the stamp
they carry, literal/ident quoting, bad_deployment (the deployment that brought the running release, not hidden
by a redeploy, none after a rollback), choose on every branch (by id, by UTC day, by default from the history:
the deployment's own pre-deploy backup, else the newest one before it) and its refusals (unknown id, malformed
or empty day, id and day together, no deployment, nothing before it, missing dump, unverified, other release,
no release recorded), every refusal a one-line BackupError; space_needs and human. The SQL these feed runs
against the real PostgreSQL in the integration tests.
"""

import datetime
import json

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.backup import BackupError, make_id
from ansible_collections.runbook.rollback.plugins.module_utils.restore import (
    advance_sql,
    bad_deployment,
    check_db_name,
    choose,
    count_problems,
    human,
    ident,
    literal,
    names,
    parse_sequences,
    space_needs,
    stamp_of,
)

STAMP = "20261128_150000"


def sidecar(created_at, tag="pre_deploy", version="v1.2.3", **extra):
    """A sidecar as backup.take() writes it, plus dump_present as read_sidecars() adds it."""
    taken = datetime.datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    backup_id = make_id(taken, tag, version)
    meta = {
        "id": backup_id,
        "tag": tag,
        "database": "mysaas",
        "created_at": created_at,
        "version": version,
        "format": "custom",
        "file": backup_id + ".dump",
        "size": 2_500_000,
        "database_size": 10_000_000,
        "sha256": "ab" * 32,
        "archive_entries": 42,
        "row_counts": {"users": 12, "chats": 40},
        "verified": True,
        "dump_present": True,
    }
    meta.update(extra)
    return meta


def deploy(version, from_version, at, backup=None, result="verified"):
    return {
        "version": version,
        "action": "deploy",
        "from_version": from_version,
        "result": result,
        "at": at,
        "backup": backup,
    }


def rollback(version, from_version, at):
    return {"version": version, "action": "rollback", "from_version": from_version, "result": "verified", "at": at}


def refused(match, *args, **kwargs):
    """choose() raises a one-line BackupError matching `match`; return its message."""
    with pytest.raises(BackupError, match=match) as exc:
        choose(*args, **kwargs)
    assert "\n" not in str(exc.value)
    return str(exc.value)


OLD_MANUAL = sidecar("2026-11-27T09:00:00Z", "manual")
MORNING = sidecar("2026-11-28T09:00:00Z", "manual")
PRE_DEPLOY = sidecar("2026-11-28T15:00:00Z", "pre_deploy")
EMERGENCY = sidecar("2026-11-28T16:00:00Z", "before_rollback", "v1.3.0")
AFTER = sidecar("2026-11-29T08:00:00Z", "manual", "v1.3.0")
BACKUPS = [OLD_MANUAL, MORNING, PRE_DEPLOY, EMERGENCY, AFTER]

DEPLOYED_AT = "2026-11-28T15:05:00Z"
HISTORY = [
    deploy("v1.2.3", "v1.2.2", "2026-11-20T10:00:00Z"),
    deploy("v1.3.0", "v1.2.3", DEPLOYED_AT, backup=PRE_DEPLOY["id"]),
]
HISTORY_WITHOUT_BACKUP = [
    deploy("v1.2.3", "v1.2.2", "2026-11-20T10:00:00Z"),
    deploy("v1.3.0", "v1.2.3", DEPLOYED_AT),
]


# --------------------------------------------------------------------------- names and quoting


@pytest.mark.parametrize("name", ["mysaas", "_private", "App_2", "a", "a" * 63], ids=str)
def test_check_db_name_accepts_plain_identifiers(name):
    assert check_db_name(name) == name


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param('my"saas', id="double-quote"),
        pytest.param("my'saas", id="single-quote"),
        pytest.param("my saas", id="space"),
        pytest.param("my-saas", id="dash"),
        pytest.param("mysaas;drop", id="semicolon"),
        pytest.param("2saas", id="leading-digit"),
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param(42, id="not-a-string"),
        pytest.param("a" * 64, id="64-chars"),
    ],
)
def test_check_db_name_refuses(bad):
    with pytest.raises(BackupError, match=r"database name .* must be a plain identifier of at most 63 characters"):
        check_db_name(bad)


def test_check_db_name_refuses_a_trailing_newline():
    with pytest.raises(BackupError):
        check_db_name("mysaas\n")


def test_check_db_name_names_what_it_checked():
    with pytest.raises(BackupError, match=r"^side database name 'a-b' ") as exc:
        check_db_name("a-b", "side database")
    assert "\n" not in str(exc.value)


def test_names():
    assert names("mysaas", STAMP) == ("mysaas_restore_20261128_150000", "mysaas_before_rollback_20261128_150000")


def test_names_take_the_stamp_of_a_time():
    now = datetime.datetime(2026, 11, 28, 15, 0, 0, tzinfo=datetime.timezone.utc)
    assert stamp_of(now) == STAMP
    assert names("mysaas", stamp_of(now))[0].endswith("_" + STAMP)


@pytest.mark.parametrize(
    "stamp",
    [
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param("20261128T150000", id="T-separator"),
        pytest.param("2026-11-28_15:00:00", id="punctuated"),
        pytest.param("20261128_1500", id="short-time"),
        pytest.param("x20261128_150000", id="prefix"),
        pytest.param("20261128_150000x", id="suffix"),
        pytest.param("20261128_150000;drop", id="injection"),
    ],
)
def test_names_refuse_a_malformed_stamp(stamp):
    with pytest.raises(BackupError, match=r"restore stamp .* must look like 20261128_150000") as exc:
        names("mysaas", stamp)
    assert "\n" not in str(exc.value)


def test_names_refuse_a_stamp_with_a_trailing_newline():
    with pytest.raises(BackupError):
        names("mysaas", STAMP + "\n")


def test_names_fit_the_longest_database_name():
    side, kept = names("d" * 31, STAMP)
    assert len(kept) == 63
    assert len(side) < 63


def test_names_refuse_a_database_whose_kept_name_would_be_too_long():
    with pytest.raises(BackupError, match=r"^kept database name 'd{32}_before_rollback_20261128_150000' ") as exc:
        names("d" * 32, STAMP)
    assert "\n" not in str(exc.value)


def test_names_refuse_a_database_that_is_no_identifier():
    with pytest.raises(BackupError, match=r"^side database name "):
        names("my-saas", STAMP)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("mysaas", "'mysaas'", id="plain"),
        pytest.param("", "''", id="empty"),
        pytest.param("O'Brien", "'O''Brien'", id="inner-quote"),
        pytest.param("''", "''''''", id="only-quotes"),
        pytest.param("x'; DROP DATABASE mysaas; --", "'x''; DROP DATABASE mysaas; --'", id="injection"),
        pytest.param(42, "'42'", id="number"),
    ],
)
def test_literal(text, expected):
    assert literal(text) == expected


def test_ident_quotes_a_checked_name_only():
    assert ident("mysaas") == '"mysaas"'
    with pytest.raises(BackupError):
        ident('my"saas')


# --------------------------------------------------------------------------- bad_deployment

BAD_DEPLOYMENT_CASES = {
    "empty history": ([], None),
    "first deploy ever": ([deploy("v1.2.3", None, "2026-11-20T10:00:00Z")], 0),
    "last deploy changed the version": (HISTORY_WITHOUT_BACKUP, 1),
    "redeploy of the same version does not hide it": (
        [*HISTORY_WITHOUT_BACKUP, deploy("v1.3.0", "v1.3.0", "2026-11-28T18:00:00Z")],
        1,
    ),
    "several redeploys": (
        [
            *HISTORY_WITHOUT_BACKUP,
            deploy("v1.3.0", "v1.3.0", "2026-11-28T18:00:00Z"),
            deploy("v1.3.0", "v1.3.0", "2026-11-28T19:00:00Z", result="failed"),
        ],
        1,
    ),
    "newest of two deployments of the version": (
        [
            deploy("v1.3.0", "v1.2.3", "2026-11-25T10:00:00Z"),
            rollback("v1.2.3", "v1.3.0", "2026-11-25T11:00:00Z"),
            deploy("v1.3.0", "v1.2.3", DEPLOYED_AT),
        ],
        2,
    ),
    "entry without action counts as a deploy": (
        [{"version": "v1.3.0", "from_version": "v1.2.3", "result": "verified", "at": DEPLOYED_AT}],
        0,
    ),
    "last entry is a rollback": ([*HISTORY_WITHOUT_BACKUP, rollback("v1.2.3", "v1.3.0", "2026-11-28T16:00:00Z")], None),
    "redeploy after a rollback": (
        [
            *HISTORY_WITHOUT_BACKUP,
            rollback("v1.2.3", "v1.3.0", "2026-11-28T16:00:00Z"),
            deploy("v1.2.3", "v1.2.3", "2026-11-28T17:00:00Z"),
        ],
        None,
    ),
    "only redeploys of the current version": (
        [deploy("v1.3.0", "v1.3.0", "2026-11-28T17:00:00Z"), deploy("v1.3.0", "v1.3.0", "2026-11-28T18:00:00Z")],
        None,
    ),
}


@pytest.mark.parametrize(
    ("entries", "expected"), list(BAD_DEPLOYMENT_CASES.values()), ids=list(BAD_DEPLOYMENT_CASES.keys())
)
def test_bad_deployment(entries, expected):
    found = bad_deployment(entries)
    if expected is None:
        assert found is None
    else:
        assert found is entries[expected]


# --------------------------------------------------------------------------- choose: by id


def test_choose_by_id():
    meta, reason = choose(BACKUPS, HISTORY, backup_id=MORNING["id"])
    assert meta is MORNING
    assert reason == "named with -e backup"


def test_choose_by_id_may_name_an_emergency_backup():
    meta, _unused = choose(BACKUPS, [], backup_id=EMERGENCY["id"])
    assert meta is EMERGENCY


def test_choose_by_unknown_id():
    message = refused("^no backup ", BACKUPS, HISTORY, backup_id="20261201T000000Z-manual")
    assert "20261201T000000Z-manual" in message
    assert "-e list=true" in message


def test_choose_by_unknown_id_with_a_newline_stays_one_line():
    refused("no backup", BACKUPS, HISTORY, backup_id="20261201T000000Z-manual\nsecond line")


def test_choose_refuses_id_and_date_together():
    refused("by id or by date, not both", BACKUPS, HISTORY, backup_id=MORNING["id"], backup_date="2026-11-28")


# --------------------------------------------------------------------------- choose: by date


def test_choose_by_date_takes_the_newest_of_that_day_but_no_emergency_backup():
    meta, reason = choose(BACKUPS, HISTORY, backup_date="2026-11-28")
    assert meta is PRE_DEPLOY
    assert reason == "newest of the 2 backup(s) taken on 2026-11-28"


def test_choose_by_date_of_a_day_with_one_backup():
    meta, reason = choose(BACKUPS, HISTORY, backup_date="2026-11-27")
    assert meta is OLD_MANUAL
    assert reason == "newest of the 1 backup(s) taken on 2026-11-27"


def test_choose_by_date_reads_the_utc_day_of_created_at():
    late = sidecar("2026-11-28T23:59:59Z", "manual")
    early = sidecar("2026-11-29T00:00:00Z", "manual")
    assert choose([MORNING, late, early], [], backup_date="2026-11-28")[0] is late
    assert choose([MORNING, late, early], [], backup_date="2026-11-29")[0] is early


def test_choose_by_date_without_a_backup_that_day_lists_the_days_there_are():
    message = refused(r"^no backup taken on 2026-11-30 ", BACKUPS, HISTORY, backup_date="2026-11-30")
    assert message.endswith("(backups exist for: 2026-11-27, 2026-11-28, 2026-11-29)")


def test_choose_by_date_of_a_day_with_only_an_emergency_backup():
    only_emergency = [OLD_MANUAL, EMERGENCY]
    message = refused(r"^no backup taken on 2026-11-28 ", only_emergency, HISTORY, backup_date="2026-11-28")
    assert "2026-11-27" in message


def test_choose_by_date_without_any_backup():
    message = refused(r"^no backup taken on 2026-11-28 ", [], HISTORY, backup_date="2026-11-28")
    assert message.endswith("(backups exist for: none)")


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("28/11/2026", id="day-first"),
        pytest.param("2026-11-28T15:00:00Z", id="timestamp"),
        pytest.param("2026-11-8", id="one-digit-day"),
        pytest.param("20261128", id="no-dashes"),
        pytest.param("yesterday", id="word"),
        pytest.param(" 2026-11-28", id="leading-space"),
    ],
)
def test_choose_by_malformed_date(bad):
    refused(r"backup_date .* must look like 2025-11-15", BACKUPS, HISTORY, backup_date=bad)


def test_choose_by_date_with_a_trailing_newline_stays_one_line():
    refused("2026-11-28", BACKUPS, HISTORY, backup_date="2026-11-28\n")


# --------------------------------------------------------------------------- choose: by default


def test_choose_by_default_takes_the_backup_the_deployment_recorded():
    meta, reason = choose(BACKUPS, HISTORY)
    assert meta is PRE_DEPLOY
    assert reason == "pre-deploy backup of the deployment of v1.3.0 at " + DEPLOYED_AT


def test_choose_by_default_prefers_the_recorded_backup_over_a_newer_one():
    history = [deploy("v1.3.0", "v1.2.3", DEPLOYED_AT, backup=MORNING["id"])]
    assert choose(BACKUPS, history)[0] is MORNING


def test_choose_by_default_sees_through_a_redeploy():
    history = [*HISTORY, deploy("v1.3.0", "v1.3.0", "2026-11-29T10:00:00Z", backup=AFTER["id"])]
    meta, reason = choose(BACKUPS, history)
    assert meta is PRE_DEPLOY
    assert DEPLOYED_AT in reason


def test_choose_by_default_without_a_recorded_backup_takes_the_newest_before_the_deployment():
    meta, reason = choose(BACKUPS, HISTORY_WITHOUT_BACKUP)
    assert meta is PRE_DEPLOY
    assert reason == "newest backup before the deployment of v1.3.0 at " + DEPLOYED_AT


def test_choose_by_default_skips_emergency_backups_before_the_deployment():
    emergency = sidecar("2026-11-28T15:01:00Z", "before_rollback")
    meta, _unused = choose([MORNING, emergency, AFTER], HISTORY_WITHOUT_BACKUP)
    assert meta is MORNING


def test_choose_by_default_counts_a_backup_taken_in_the_deployment_second():
    same_second = sidecar(DEPLOYED_AT, "manual")
    assert choose([MORNING, same_second, AFTER], HISTORY_WITHOUT_BACKUP)[0] is same_second


def test_choose_by_default_falls_back_when_the_recorded_backup_is_gone():
    history = [deploy("v1.3.0", "v1.2.3", DEPLOYED_AT, backup="20261128T150500Z-pre_deploy-v1.2.3")]
    meta, reason = choose([OLD_MANUAL, MORNING, AFTER], history)
    assert meta is MORNING
    assert reason.startswith("newest backup before the deployment")


def test_choose_by_default_without_a_backup_before_the_deployment():
    emergency = sidecar("2026-11-28T15:01:00Z", "before_rollback")
    refused(
        r"^no backup was taken before the deployment of v1.3.0 at 2026-11-28T15:05:00Z; name one with -e backup=ID$",
        [emergency, AFTER],
        HISTORY_WITHOUT_BACKUP,
    )


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param([], id="empty-history"),
        pytest.param([*HISTORY, rollback("v1.2.3", "v1.3.0", "2026-11-28T16:00:00Z")], id="after-a-rollback"),
    ],
)
def test_choose_by_default_without_a_deployment_to_undo(entries):
    refused(
        r"^the history shows no deployment to undo; name a backup with -e backup=ID or -e backup_date=",
        BACKUPS,
        entries,
    )


# --------------------------------------------------------------------------- choose: what it refuses

UNUSABLE = [
    pytest.param({"dump_present": False}, "its dump file is missing", id="dump-missing"),
    pytest.param({"verified": False}, "it was never verified", id="verified-false"),
    pytest.param({"verified": None}, "it was never verified", id="verified-none"),
    pytest.param({"verified": "true"}, "it was never verified", id="verified-string"),
]


@pytest.mark.parametrize(("change", "problem"), UNUSABLE)
@pytest.mark.parametrize("how", ["by-id", "by-date", "by-default"])
def test_choose_refuses_an_unusable_backup(how, change, problem):
    bad = dict(PRE_DEPLOY, **change)
    backups = [MORNING, bad]
    kwargs = {"by-id": {"backup_id": bad["id"]}, "by-date": {"backup_date": "2026-11-28"}, "by-default": {}}[how]
    message = refused(r"^backup %s cannot be restored: " % bad["id"], backups, HISTORY, **kwargs)
    assert message.endswith(problem)


def test_choose_refuses_a_sidecar_without_verified():
    unverified = {k: v for k, v in MORNING.items() if k != "verified"}
    refused("it was never verified", [unverified], [], backup_id=unverified["id"])


def test_choose_takes_a_sidecar_without_dump_present():
    listed = {k: v for k, v in MORNING.items() if k != "dump_present"}
    assert choose([listed], [], backup_id=listed["id"])[0] is listed


def test_choose_keeps_the_recorded_release_whatever_version_is_named():
    # Whether another release fits the backup's schema is the playbook's check (its migrations).
    assert choose(BACKUPS, HISTORY, version="v1.3.0")[0] is PRE_DEPLOY
    assert PRE_DEPLOY["version"] == "v1.2.3"


@pytest.mark.parametrize(
    "without",
    [
        pytest.param(lambda meta: dict(meta, version=None), id="version-none"),
        pytest.param(lambda meta: dict(meta, version=""), id="version-empty"),
        pytest.param(lambda meta: {k: v for k, v in meta.items() if k != "version"}, id="no-version-key"),
    ],
)
def test_choose_refuses_a_sidecar_without_release(without):
    meta = without(MORNING)
    message = refused("does not record the release it was taken on", [meta], [], backup_id=meta["id"])
    assert message.startswith("backup %s " % meta["id"])


# --------------------------------------------------------------------------- space


@pytest.mark.parametrize(
    ("meta", "current_size", "jobs", "margin", "expected"),
    [
        pytest.param({"size": 250, "database_size": 1000}, 2000, 2, 1.5, (750, 1750), id="sized-parallel"),
        pytest.param({"size": 250, "database_size": 1000}, 2000, 1, 1.5, (750, 1500), id="sized-single-job"),
        pytest.param({"size": 250, "database_size": 1000}, 2000, 4, 1.0, (500, 1250), id="sized-no-margin"),
        pytest.param({"size": 250}, 2000, 2, 1.5, (3000, 3250), id="unsized-current-larger"),
        pytest.param({"size": 250}, 500, 1, 1.5, (750, 1500), id="unsized-dump-times-four-larger"),
        pytest.param({"size": 250, "database_size": None}, 500, 1, 2.0, (1000, 2000), id="unsized-none"),
        pytest.param({"size": 0, "database_size": 0}, 0, 2, 1.5, (0, 0), id="empty"),
    ],
)
def test_space_needs(meta, current_size, jobs, margin, expected):
    assert space_needs(meta, current_size, jobs, margin) == expected


def test_space_needs_are_whole_bytes():
    emergency, side = space_needs({"size": 3, "database_size": 7}, 10, 2, 1.5)
    assert (emergency, side) == (6, 13)
    assert isinstance(emergency, int) and isinstance(side, int)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (1024**3, "1.0 GiB"),
        (int(2.5 * 1024**3), "2.5 GiB"),
        (1024**4, "1.0 TiB"),
        (3 * 1024**5, "3072.0 TiB"),
    ],
    ids=str,
)
def test_human(size, expected):
    assert human(size) == expected


def test_choose_takes_the_named_release_for_a_sidecar_without_one():
    meta = dict(MORNING, version=None)
    chosen, reason = choose([meta], [], backup_id=meta["id"], version="v1.2.2")
    assert chosen["version"] == "v1.2.2" and "named with -e version" in reason
    assert meta["version"] is None


@pytest.mark.parametrize(
    ("counts", "expected", "problems"),
    [
        pytest.param({"users": 3, "chats": 5}, {"users": 3, "chats": 5}, [], id="equal"),
        pytest.param({"users": 4, "chats": 9}, {"users": 3, "chats": 5}, [], id="users-wrote-since"),
        pytest.param({"users": 2, "chats": 5}, {"users": 3, "chats": 5}, ["users 2 (backup: 3)"], id="fewer"),
        pytest.param(
            {"users": None, "chats": 5}, {"users": 3, "chats": 5}, ["users missing (backup: 3)"], id="table-gone"
        ),
        pytest.param({"users": 3}, {"users": 3, "audit": 7}, [], id="table-not-asked-for"),
        pytest.param({"users": 0}, {"users": None}, [], id="absent-in-backup"),
    ],
)
def test_count_problems(counts, expected, problems):
    assert count_problems(counts, expected) == problems


def test_parse_sequences():
    out = "public.users_id_seq|42\npublic.\"odd|name\"|7\n\n"
    assert parse_sequences(out) == {"public.users_id_seq": 42, 'public."odd|name"': 7}


def test_advance_sql_quotes_names_and_keeps_the_higher_value():
    sql = advance_sql({"public.users_id_seq": 42, "public.o'brien_seq": 3})
    assert "('public.o''brien_seq', 3), ('public.users_id_seq', 42)" in sql
    assert "greatest(v.value, coalesce(s.last_value, 0))" in sql
    assert advance_sql({}) is None


# --------------------------------------------------------------------------- the db_backup_info module


@pytest.mark.functional
def test_info_module_lists_the_backups_and_chooses_the_pre_deploy_one(tmp_path, ansible_module):
    backups = tmp_path / "backups"
    backups.mkdir()
    for meta in (MORNING, PRE_DEPLOY, AFTER):
        written = {k: v for k, v in meta.items() if k != "dump_present"}
        (backups / (meta["id"] + ".json")).write_text(json.dumps(written))
        if meta is not AFTER:
            (backups / meta["file"]).write_bytes(b"PGDMP")
    (backups / "broken.json").write_text("{not json")
    history = tmp_path / "deployments.jsonl"
    history.write_text("".join(json.dumps(entry) + "\n" for entry in HISTORY))

    listed = ansible_module("db_backup_info", {"dir": str(backups)})
    assert listed["changed"] is False
    assert [(b["id"], b["dump_present"]) for b in listed["backups"]] == [
        (MORNING["id"], True), (PRE_DEPLOY["id"], True), (AFTER["id"], False)
    ]
    assert [w.split(":")[0] for w in listed["warnings"]] == ["ignored broken.json"]
    assert "backup" not in listed

    args = {"dir": str(backups), "history": str(history), "select": True}
    chosen = ansible_module("db_backup_info", args, check=True)
    assert chosen["backup"]["id"] == PRE_DEPLOY["id"]
    assert "v1.3.0" in chosen["reason"]

    missing = ansible_module("db_backup_info", {"dir": str(backups), "select": True, "id": AFTER["id"]})
    assert missing.get("failed") and "\n" not in missing["msg"], missing
