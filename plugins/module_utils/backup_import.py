# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dumps made by another tool (a backup service's nightly pg_dump, a cron job) made into backups of our own.

A dump is loaded into a scratch database beside the real one, in the same server (the database's own
container, as every backup is taken), and counted there; the scratch database is then dumped in the custom
format with a sidecar like any other backup's (tag ``imported``, the source's name and sha256 recorded), so
Procedure B and restore.yml list, check and restore it as they do their own. The scratch database is
dropped whatever happens; the source is only read. A source already imported (same sha256) is skipped.

Plain SQL (``pg_dump`` default), gzipped plain SQL and custom-format archives are read.
"""

from __future__ import annotations

import datetime
import gzip
import os
import re
import shutil
import uuid

from ansible_collections.runbook.rollback.plugins.module_utils.backup import (
    BackupError,
    all_tables,
    first_line,
    list_archive,
    make_id,
    paths,
    read_sidecars,
    row_checksums,
    row_counts,
    sha256_file,
    size_of,
    write_sidecar,
)

TAG = "imported"
SUFFIXES = (".sql", ".sql.gz", ".dump", ".pgdump", ".backup")


def kind_of(path):
    """'custom' (a pg_dump archive), 'gzip' (gzipped plain SQL) or 'plain'."""
    with open(path, "rb") as fh:
        head = fh.read(5)
    if head == b"PGDMP":
        return "custom"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    return "plain"


def sources_in(directory):
    """The dump files of `directory`, by name (a file that is not one of SUFFIXES is not a dump, and a dump with
    a sidecar beside it is a backup of our own)."""
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        raise BackupError("no directory %s to import dumps from" % directory) from None
    ours = {n[: -len(".json")] for n in names if n.endswith(".json")}
    return [os.path.join(directory, n) for n in names
            if n.endswith(SUFFIXES) and os.path.isfile(os.path.join(directory, n))
            and not (n.endswith(".dump") and n[: -len(".dump")] in ours)]  # fmt: skip


def source_stem(path):
    name = os.path.basename(path)
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:60] or "dump"


def scratch_name(database):
    return ("%s_import_%s" % (database[:40], uuid.uuid4().hex[:8])).replace('"', "")


def _psql(compose, sql, database="postgres"):
    rc, _out, err = compose.run("psql", "--no-psqlrc", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql)
    return rc, err


def _load(compose, source, kind, scratch, work):
    """Load the source into the scratch database; raise BackupError with psql's or pg_restore's first line."""
    if kind == "custom":
        with open(source, "rb") as fh:
            rc, _out, err = compose.run("pg_restore", "--no-owner", "--exit-on-error", "--dbname=" + scratch, stdin=fh)
        tool = "pg_restore"
    else:
        plain = source
        if kind == "gzip":
            plain = os.path.join(work, "source.sql")
            with gzip.open(source, "rb") as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst)
        with open(plain, "rb") as fh:
            rc, _out, err = compose.run("psql", "--no-psqlrc", "-q", "-v", "ON_ERROR_STOP=1", "-d", scratch, stdin=fh)
        tool = "psql"
    if rc != 0:
        raise BackupError("%s cannot load %s: %s" % (tool, os.path.basename(source), first_line(err, "rc %d" % rc)))


def import_dump(compose, directory, database, source, tables=(), now=None):
    """(sidecar, imported) for the dump `source`: made a backup of `directory`, or the one made of it before."""
    digest = sha256_file(source)
    backups, _warnings = read_sidecars(directory)
    done = next((b for b in backups if b.get("source_sha256") == digest), None)
    if done is not None:
        return done, False
    kind = kind_of(source)
    created = now or datetime.datetime.fromtimestamp(os.path.getmtime(source), datetime.timezone.utc)
    backup_id = make_id(created.replace(microsecond=0), TAG, source_stem(source))
    dump_path, meta_path = paths(directory, backup_id)
    if os.path.exists(dump_path) or os.path.exists(meta_path):
        raise BackupError("backup %s exists already; not overwriting it" % backup_id)
    os.makedirs(directory, mode=0o750, exist_ok=True)
    scratch = scratch_name(database)
    work = os.path.join(directory, ".import-" + scratch)
    partial = dump_path + ".partial"
    rc, err = _psql(compose, 'CREATE DATABASE "%s"' % scratch)
    if rc != 0:
        raise BackupError("cannot make the scratch database %s: %s" % (scratch, first_line(err, "rc %d" % rc)))
    try:
        os.makedirs(work, mode=0o700)
        _load(compose, source, kind, scratch, work)

        def query(sql):
            return compose.run("psql", "--no-psqlrc", "-At", "-d", scratch, "-c", sql)

        tables = list(tables) or all_tables(query)
        counts = row_counts(compose, scratch, tables)
        checksums = row_checksums(compose, scratch, [t for t in tables if counts.get(t) is not None])
        rc, err, size, dump_digest = compose.stream_to(partial, "pg_dump", "--format=custom", "--dbname=" + scratch)
        if rc != 0:
            raise BackupError("pg_dump of the imported %s failed: %s" % (os.path.basename(source), first_line(err, "")))
        entries = list_archive(compose, partial)
        database_size = size_of(compose, scratch)
        os.rename(partial, dump_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if os.path.exists(partial):
            os.unlink(partial)
        # WITH (FORCE) ends a session left in it (PostgreSQL 13 and later); older servers drop it plainly.
        if _psql(compose, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % scratch)[0] != 0:
            _psql(compose, 'DROP DATABASE IF EXISTS "%s"' % scratch)
    meta = {
        "id": backup_id,
        "tag": TAG,
        "database": database,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        # Which release the source was taken on is not known: a restore names it (-e version).
        "version": None,
        "format": "custom",
        "file": os.path.basename(dump_path),
        "size": size,
        "database_size": database_size,
        "sha256": dump_digest,
        "archive_entries": len(entries),
        "row_counts": counts,
        "row_checksums": checksums,
        "consistent": True,
        "verified": True,
        "imported_from": os.path.basename(source),
        "source_format": kind,
        "source_sha256": digest,
    }
    write_sidecar(meta_path, meta)
    return meta, True
