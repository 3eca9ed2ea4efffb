"""Backup ids, table names and the SQL made from them, sidecar listing. Dumps themselves run against the
real PostgreSQL in tests/integration/test_backup.py."""

import datetime
import json

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.backup import (
    ALL_TABLES_SQL,
    BackupError,
    all_tables,
    check_id,
    checksum_query,
    count_query,
    existing_query,
    make_id,
    parse_checksums,
    parse_counts,
    read_sidecars,
    tables_of,
)

NOW = datetime.datetime(2026, 11, 28, 15, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    ("tag", "version", "expected"),
    [
        ("manual", None, "20261128T150000Z-manual"),
        ("pre_deploy", "v1.2.3", "20261128T150000Z-pre_deploy-v1.2.3"),
        ("before_rollback", "v1.3.0; rm -rf /", "20261128T150000Z-before_rollback-v1.3.0__rm_-rf__"),
    ],
)
def test_make_id(tag, version, expected):
    backup_id = make_id(NOW, tag, version)
    assert backup_id == expected
    assert check_id(backup_id) == backup_id


@pytest.mark.parametrize("bad", ["", "../20261128T150000Z-manual", "20261128-manual", None, "20261128T150000Z-Manual"])
def test_check_id_refuses(bad):
    with pytest.raises(BackupError, match="malformed backup id"):
        check_id(bad)


def test_make_id_refuses_an_unknown_tag():
    with pytest.raises(BackupError, match="unknown backup tag 'daily'"):
        make_id(NOW, "daily")


def test_queries_quote_plain_identifiers_only():
    assert count_query(["users", "billing.invoices"]) == (
        "SELECT 'users', count(*) FROM \"users\" UNION ALL "
        "SELECT 'billing.invoices', count(*) FROM \"billing\".\"invoices\";"
    )
    assert "VALUES ('users', '\"users\"'), ('User', '\"User\"')" in existing_query(["users", "User"])
    assert "VALUES (NULL, NULL)" in existing_query([])
    for bad in ("users; DROP TABLE users", "a'b", 'x"y', "1abc", "a.b.c"):
        with pytest.raises(BackupError, match="not a plain SQL identifier"):
            count_query([bad])


def test_parse_counts():
    assert parse_counts("users|12\nchats|0\n\n") == {"users": 12, "chats": 0}


def test_read_sidecars_orders_by_time_and_skips_what_it_cannot_read(tmp_path):
    newer = {"id": "20261128T160000Z-manual", "created_at": "2026-11-28T16:00:00Z"}
    older = {"id": "20261128T150000Z-pre_deploy-v1.2.3", "created_at": "2026-11-28T15:00:00Z"}
    for meta in (newer, older):
        (tmp_path / (meta["id"] + ".json")).write_text(json.dumps(meta))
    (tmp_path / (older["id"] + ".dump")).write_bytes(b"PGDMP")
    (tmp_path / "torn.json").write_text('{"id": "2026')
    (tmp_path / "foreign.json").write_text(json.dumps({"id": "../../etc/passwd"}))
    backups, warnings = read_sidecars(str(tmp_path))
    assert [b["id"] for b in backups] == [older["id"], newer["id"]]
    assert [b["dump_present"] for b in backups] == [True, False]
    assert len(warnings) == 2 and all(w.startswith("ignored ") for w in warnings)


def test_read_sidecars_of_a_missing_directory_is_empty(tmp_path):
    assert read_sidecars(str(tmp_path / "none")) == ([], [])


def test_backup_line_shows_date_release_tag_size_counts_and_id():
    from ansible_collections.runbook.rollback.plugins.filter.backup_line import backup_line

    meta = {
        "id": "20261128T150000Z-pre_deploy-v1.2.3", "created_at": "2026-11-28T15:00:00Z", "version": "v1.2.3",
        "tag": "pre_deploy", "size": 48213, "row_counts": {"users": 12, "chats": None}, "dump_present": True,
    }  # fmt: skip
    line = backup_line(meta)
    assert line.split() == [
        "2026-11-28T15:00:00Z", "v1.2.3", "pre_deploy", "47.1", "KiB", "users", "12,", "chats", "-",
        "20261128T150000Z-pre_deploy-v1.2.3",
    ]  # fmt: skip
    assert backup_line(dict(meta, dump_present=False)).endswith("[DUMP MISSING]")


def test_checksum_query_hashes_every_row_of_plain_identifiers_only():
    assert checksum_query(["users"]) == (
        "SELECT 'users', coalesce(sum(hashtextextended(r::text, 0)::numeric), 0) FROM \"users\" r;"
    )
    with pytest.raises(BackupError, match="not a plain SQL identifier"):
        checksum_query(["users; DROP TABLE users"])
    assert parse_checksums("users|-12345678901\nchats|0\n") == {"users": "-12345678901", "chats": "0"}


def test_every_table_is_listed_as_the_other_queries_name_it_and_odd_names_are_left_out():
    asked = []

    def query(sql):
        asked.append(sql)
        return 0, "AuditLog\nbilling.Invoice\nusers\nwith space\n", ""

    assert all_tables(query) == ["AuditLog", "billing.Invoice", "users"]
    assert asked == [ALL_TABLES_SQL] and "relispartition" in ALL_TABLES_SQL
    with pytest.raises(BackupError, match=r"^listing the tables failed: permission denied$"):
        all_tables(lambda sql: (1, "", "permission denied\nDETAIL: more"))


def test_a_restore_checks_the_tables_asked_for_else_every_table_its_backup_counted():
    meta = {"row_counts": {"users": 3, "AuditLog": 1}}
    assert tables_of(meta, ["users"]) == ["users"]
    assert tables_of(meta, []) == ["AuditLog", "users"]
    assert tables_of({}, []) == []
