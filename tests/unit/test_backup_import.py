"""Dumps another tool made: which files of a directory are dumps, what format each is, the id's name part."""

from __future__ import annotations

import datetime
import gzip

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.backup import BackupError, check_id, make_id
from ansible_collections.runbook.rollback.plugins.module_utils.backup_import import kind_of, source_stem, sources_in


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


@pytest.mark.parametrize("name, stem", [("shop-2026-12-01.sql.gz", "shop-2026-12-01"), ("db dump.sql", "db_dump"),
                                        ("x.dump", "x"), (".sql", "dump")])  # fmt: skip
def test_the_backup_id_names_the_source_and_is_a_valid_id(name, stem):
    assert source_stem(name) == stem
    when = datetime.datetime(2026, 12, 1, 2, 0, tzinfo=datetime.timezone.utc)
    assert check_id(make_id(when, "imported", source_stem(name))) == "20261201T020000Z-imported-" + stem
