# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dumps made by another tool (a backup service's nightly pg_dump, a cron job) made into backups of our own.

A dump is checked first (check_source: readable, whole, and a plain one holding nothing that acts outside the
database it is loaded into), then loaded into a scratch database beside the real one, in the same server (the
database's own container, as every backup is taken), and counted there; the scratch database is then dumped
in the custom format with a sidecar like any other backup's (tag ``imported``, the source's name, format and
sha256 recorded), so Procedure B and restore.yml list, check and restore it as they do their own. The scratch
database is dropped whatever happens; the source is only read. A source already imported (same sha256) is
skipped.

Plain SQL (``pg_dump`` default), gzipped plain SQL and custom-format archives are read; a plain dump is loaded
by psql as it is (its owners and grants must exist here), a custom one without owners or grants.
"""

from __future__ import annotations

import datetime
import gzip
import os
import re
import subprocess
import uuid
import zlib

from ansible_collections.runbook.rollback.plugins.module_utils.backup import (
    CHUNK,
    BackupError,
    all_tables,
    first_line,
    make_id,
    paths,
    read_sidecars,
    row_checksums,
    row_counts,
    seal,
    sha256_file,
    write_sidecar,
)
from ansible_collections.runbook.rollback.plugins.module_utils.restore import psql

TAG = "imported"
ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?$")
SUFFIXES = (".sql", ".sql.gz", ".dump", ".pgdump", ".backup")
# What pg_dump writes last in a plain dump: a file without it was cut short.
COMPLETE = b"-- PostgreSQL database dump complete"
# Lines of a plain dump that would act outside the scratch database it is loaded into: another database
# (\connect, CREATE/DROP/ALTER DATABASE, as pg_dump --create --clean writes them) or the shell (\!).
UNSAFE = re.compile(rb"^\s*(\\c(onnect)?\s|\\!|(CREATE|DROP|ALTER)\s+DATABASE\b)", re.IGNORECASE)
ARCHIVE_TIME = re.compile(r"^;\s+Archive created at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", re.MULTILINE)


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
    """The source's file name as the name part of a backup id (its suffix kept: a.sql and a.sql.gz differ)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(path)).strip(".")[:60] or "dump"


def _plain_chunks(path, kind):
    """The plain SQL of a plain or gzipped source, in chunks; BackupError for a gzip that cannot be read."""
    opener = gzip.open if kind == "gzip" else open
    try:
        with opener(path, "rb") as fh:
            yield from iter(lambda: fh.read(CHUNK), b"")
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BackupError("%s cannot be read as gzip: %s" % (os.path.basename(path), exc)) from None


def _check_line(path, number, line):
    if UNSAFE.match(line):
        what = line.strip()[:60].decode("utf-8", "replace")
        raise BackupError("%s line %d would act outside the database it is loaded into (%s): not imported"
                          % (os.path.basename(path), number, what))  # fmt: skip


def check_source(path):
    """The source's format, once it is known to be a dump that can be loaded safely and whole; BackupError with
    one line otherwise. Reads the whole file (a plain one line by line), changes nothing."""
    if os.path.getsize(path) == 0:
        raise BackupError("%s is empty" % os.path.basename(path))
    kind = kind_of(path)
    if kind == "custom":
        return kind
    last, number, partial = [], 0, b""
    for chunk in _plain_chunks(path, kind):
        lines = (partial + chunk).split(b"\n")
        partial = lines.pop()
        for line in lines:
            number += 1
            _check_line(path, number, line)
            if line.strip():
                last = (last + [line.strip()])[-3:]
    if partial.strip():
        _check_line(path, number + 1, partial)
        last = (last + [partial.strip()])[-3:]
    # pg_dump's closing comment, then "--" (and, since 17, \unrestrict): among the last lines of a whole dump.
    if COMPLETE not in last:
        raise BackupError("%s does not end as a whole pg_dump does (%r): cut short, or not a dump"
                          % (os.path.basename(path), COMPLETE.decode()))  # fmt: skip
    return kind


def _feed(compose, chunks, *command):
    """Run command in the container with the chunks as its stdin; (rc, stderr)."""
    proc = subprocess.Popen(compose.exec_argv(*command), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=compose.env)  # fmt: skip
    try:
        for chunk in chunks:
            proc.stdin.write(chunk)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    err = proc.stderr.read().decode("utf-8", "replace")
    return proc.wait(), err


def _drop(compose, scratch):
    """Drop the scratch database; WITH (FORCE) ends a session left in it (PostgreSQL 13 and later), older servers
    drop it plainly. A drop that fails is not worth the import's own error."""
    for sql in ('DROP DATABASE IF EXISTS "%s" WITH (FORCE)', 'DROP DATABASE IF EXISTS "%s"'):
        try:
            psql(compose, sql % scratch, what="dropping " + scratch)
            return
        except BackupError:
            continue


def _load(compose, source, kind, scratch):
    """Load the source into the scratch database; BackupError with psql's or pg_restore's first line."""
    if kind == "custom":
        with open(source, "rb") as fh:
            rc, _out, err = compose.run("pg_restore", "--no-owner", "--no-acl", "--exit-on-error",
                                        "--dbname=" + scratch, stdin=fh)  # fmt: skip
        tool = "pg_restore"
    else:
        rc, err = _feed(compose, _plain_chunks(source, kind), "psql", "--no-psqlrc", "-q", "-v", "ON_ERROR_STOP=1",
                        "-d", scratch)  # fmt: skip
        tool = "psql"
    if rc != 0:
        raise BackupError("%s cannot load %s: %s" % (tool, os.path.basename(source), first_line(err, "rc %d" % rc)))


def archive_time(listing):
    """When pg_dump wrote a custom archive, from `pg_restore --list`'s header; None when it does not say."""
    found = ARCHIVE_TIME.search(listing or "")
    if not found:
        return None
    return datetime.datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)


def _taken_at(compose, source, kind, origin_time=None):
    """(when the dump was taken, how that is known): the archive's own time, else the time its origin gives
    (an S3 object's), else the file's."""
    if kind == "custom":
        with open(source, "rb") as fh:
            rc, out, _err = compose.run("pg_restore", "--list", stdin=fh)
        when = archive_time(out) if rc == 0 else None
        if when is not None:
            return when, "archive"
    if origin_time is not None:
        return origin_time, "origin"
    return datetime.datetime.fromtimestamp(int(os.path.getmtime(source)), datetime.timezone.utc), "file time"


def origin_name(origin, source):
    """The name a source is known by: its file name, under the place it was fetched from when it was."""
    name = os.path.basename(source)
    return "%s/%s" % (origin.rstrip("/"), name) if origin else name


def parse_time(text):
    """An ISO 8601 time as S3 and Ansible write it (no zone: UTC) as an aware datetime, to the second; None when
    `text` is not one."""
    found = ISO_TIME.match(str(text or "").strip())
    if not found:
        return None
    when = datetime.datetime.strptime("%s %s" % found.group(1, 2), "%Y-%m-%d %H:%M:%S")
    zone = found.group(3) or "+00:00"
    offset = 0 if zone == "Z" else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 60 + int(zone[-2:]))
    return (when - datetime.timedelta(minutes=offset)).replace(tzinfo=datetime.timezone.utc)


def import_dump(compose, directory, database, source, origin=None, origin_time=None):
    """(sidecar, imported) for the dump `source`: made a backup of `directory`, or the one made of it before.
    `origin`: where the file was fetched from (recorded with its name); `origin_time`: the time kept there."""
    digest = sha256_file(source)
    backups, _warnings = read_sidecars(directory)
    done = next((b for b in backups if b.get("source_sha256") == digest), None)
    if done is not None:
        return done, False
    kind = check_source(source)
    created, created_from = _taken_at(compose, source, kind, origin_time)
    backup_id = make_id(created, TAG, source_stem(source))
    dump_path, meta_path = paths(directory, backup_id)
    if os.path.exists(dump_path) or os.path.exists(meta_path):
        raise BackupError("backup %s exists already; not overwriting it" % backup_id)
    os.makedirs(directory, mode=0o750, exist_ok=True)
    scratch = "%s_import_%s" % (database[:40], uuid.uuid4().hex[:8])
    partial = dump_path + ".partial"
    psql(compose, 'CREATE DATABASE "%s" TEMPLATE template0' % scratch, what="making the scratch database " + scratch)
    try:
        _load(compose, source, kind, scratch)

        def query(sql):
            return compose.run("psql", "--no-psqlrc", "-At", "-d", scratch, "-c", sql)

        tables = all_tables(query)
        if not tables:
            raise BackupError("%s holds no table: not imported" % os.path.basename(source))
        counts = row_counts(compose, scratch, tables)
        checksums = row_checksums(compose, scratch, [t for t in tables if counts.get(t) is not None])
        rc, err, size, dump_digest = compose.stream_to(partial, "pg_dump", "--format=custom", "--dbname=" + scratch)
        if rc != 0:
            raise BackupError("pg_dump of the imported %s failed: %s" % (os.path.basename(source), first_line(err, "")))
        entries, database_size = seal(compose, partial, dump_path, scratch)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
        _drop(compose, scratch)
    meta = {
        "id": backup_id,
        "tag": TAG,
        "database": database,
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        # The archive's own time, or only the file's (a copy made without keeping it looks new).
        "created_at_from": created_from,
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
        "imported_from": origin_name(origin, source),
        "source_format": kind,
        "source_sha256": digest,
    }
    write_sidecar(meta_path, meta)
    return meta, True
