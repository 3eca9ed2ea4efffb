"""Dumps another tool made: which files of a directory are dumps, what format each is, the id's name part."""

from __future__ import annotations

import datetime
import gzip
import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.filter.dump_sources import dump_sources
from ansible_collections.runbook.rollback.plugins.module_utils.backup import BackupError, check_id, make_id
from ansible_collections.runbook.rollback.plugins.module_utils.backup_import import (
    SUFFIXES,
    archive_time,
    check_source,
    kind_of,
    origin_name,
    parse_time,
    source_stem,
    sources_in,
)

ROLES = pathlib.Path(__file__).resolve().parents[2] / "roles"


def test_the_format_is_read_from_the_file_not_its_name(tmp_path):
    (tmp_path / "a.dump").write_bytes(b"PGDMP\x01\x0e")
    (tmp_path / "b.dump").write_bytes(gzip.compress(b"CREATE TABLE t ();"))
    (tmp_path / "c.sql").write_text("-- PostgreSQL database dump\n")
    assert [kind_of(tmp_path / n) for n in ("a.dump", "b.dump", "c.sql")] == ["custom", "gzip", "plain"]


def test_a_directory_gives_its_dumps_but_not_our_own_backups_or_other_files(tmp_path):
    for name in ("nightly-1.sql", "nightly-2.sql.gz", "weekly.backup", "notes.txt",
                 "20261201T000000Z-manual.dump", "20261201T000000Z-manual.json"):  # fmt: skip
        (tmp_path / name).write_text("x")
    (tmp_path / "old.sql").mkdir()
    found = [p.rsplit("/", 1)[-1] for p in sources_in(str(tmp_path))]
    assert found == ["nightly-1.sql", "nightly-2.sql.gz", "weekly.backup"]
    with pytest.raises(BackupError, match=r"no directory .* to import dumps from"):
        sources_in(str(tmp_path / "missing"))


@pytest.mark.parametrize("name, stem", [("shop-1.sql.gz", "shop-1.sql.gz"), ("db dump.sql", "db_dump.sql"),
                                        ("x.dump", "x.dump"), ("..", "dump")])  # fmt: skip
def test_the_backup_id_names_the_source_and_is_a_valid_id(name, stem):
    assert source_stem(name) == stem
    when = datetime.datetime(2026, 12, 1, 2, 0, tzinfo=datetime.timezone.utc)
    assert check_id(make_id(when, "imported", source_stem(name))) == "20261201T020000Z-imported-" + stem


# The start and end of a plain pg_dump, as version 17 writes them.
WHOLE = (b"--\n-- PostgreSQL database dump\n--\n\\restrict k3y\nCREATE TABLE t (id int);\n\n"
         b"--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict k3y\n\n")  # fmt: skip


@pytest.mark.parametrize("name, body, refused", [
    ("empty.sql", b"", "is empty"),
    ("cut.sql", WHOLE[:40], "does not end as a whole pg_dump does"),
    ("notes.sql", b"hello\n", "does not end as a whole pg_dump does"),
    ("other-db.sql", b"\\connect other\n" + WHOLE, r"line 1 would act outside the database .*\\connect other"),
    ("shell.sql", WHOLE.replace(b"CREATE TABLE", b"\\! rm -rf /\nCREATE TABLE"), r"line 5 would act outside"),
    ("clean.sql", b"DROP DATABASE app_db;\n" + WHOLE, "DROP DATABASE app_db"),
    ("create.sql.gz", gzip.compress(b"CREATE DATABASE app_db WITH TEMPLATE = template0;\n" + WHOLE, mtime=0),
     "CREATE DATABASE"),
    ("truncated.sql.gz", gzip.compress(WHOLE, mtime=0)[:30], "cannot be read as gzip"),
])  # fmt: skip
def test_a_dump_that_is_not_whole_or_acts_outside_its_database_is_refused_before_it_is_loaded(tmp_path, name, body,
                                                                                              refused):  # fmt: skip
    (tmp_path / name).write_bytes(body)
    with pytest.raises(BackupError, match=refused):
        check_source(str(tmp_path / name))


def test_a_whole_dump_plain_or_gzipped_or_an_archive_is_accepted(tmp_path):
    (tmp_path / "a.sql").write_bytes(WHOLE)
    (tmp_path / "b.sql.gz").write_bytes(gzip.compress(WHOLE))
    (tmp_path / "c.dump").write_bytes(b"PGDMP\x01\x0e\x00")
    assert [check_source(str(tmp_path / n)) for n in ("a.sql", "b.sql.gz", "c.dump")] == ["plain", "gzip", "custom"]


def test_a_custom_archive_says_when_it_was_made():
    listing = ";\n; Archive created at 2026-11-30 02:00:05 UTC\n;     dbname: app_db\n"
    assert archive_time(listing) == datetime.datetime(2026, 11, 30, 2, 0, 5, tzinfo=datetime.timezone.utc)
    assert archive_time("; nothing here\n") is None


def test_a_time_kept_at_the_origin_is_read_to_the_second_in_utc():
    utc = datetime.timezone.utc
    assert parse_time("2026-11-30T02:00:07+00:00") == datetime.datetime(2026, 11, 30, 2, 0, 7, tzinfo=utc)
    assert parse_time("2026-11-30 03:00:07.123+01:00") == datetime.datetime(2026, 11, 30, 2, 0, 7, tzinfo=utc)
    assert parse_time("2026-11-30T02:00:07Z") == parse_time("2026-11-30T02:00:07")
    assert parse_time("yesterday") is None and parse_time(None) is None


def test_a_fetched_source_is_named_with_where_it_came_from():
    assert origin_name(None, "/srv/dumps/a.sql") == "a.sql"
    assert origin_name("s3://backups/nightly", "/var/lib/x/import/backups/nightly/a.sql") == "s3://backups/nightly/a.sql"


def test_dumps_are_paths_on_the_target_or_s3_prefixes():
    got = dump_sources(" /srv/dumps/ , s3://shop-dumps/nightly/pg ,s3://shop-dumps", "/state/import")
    assert got == [
        {"src": "/srv/dumps", "url": None, "bucket": None, "prefix": None, "error": None},
        {"src": "/state/import/shop-dumps/nightly/pg", "url": "s3://shop-dumps/nightly/pg", "bucket": "shop-dumps",
         "prefix": "nightly/pg/", "error": None},
        {"src": "/state/import/shop-dumps/_", "url": "s3://shop-dumps", "bucket": "shop-dumps", "prefix": "",
         "error": None},
    ]  # fmt: skip
    assert dump_sources("", "/state/import") == []
    for bad, said in (("dumps/nightly", "not an absolute path"), ("s3://Bad_Bucket/x", "not an s3://bucket/prefix"),
                      ("s3://shop-dumps/../etc", "prefix with . or .. parts")):  # fmt: skip
        (entry,) = dump_sources(bad, "/state/import")
        assert said in entry["error"] and entry["bucket"] is None
    with pytest.raises(AnsibleFilterError, match="staging_dir"):
        dump_sources("/srv/dumps", "import")


def test_the_role_fetches_from_s3_what_the_module_reads_in_a_directory():
    defaults = yaml.safe_load((ROLES / "procedure" / "defaults" / "main.yml").read_text())
    assert tuple(defaults["procedure_adopt_dump_suffixes"]) == SUFFIXES
