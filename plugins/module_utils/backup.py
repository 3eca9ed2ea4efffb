# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL backups of a compose project: a custom-format dump plus a JSON sidecar.

The dump runs inside the database's own container (`docker compose exec -T <service> pg_dump`), so the
host needs neither PostgreSQL client tools nor the database password: the container's postgres user
connects over the local socket. The dump streams to `<dir>/<id>.dump.partial`, is hashed on the way, and
is renamed into place only once pg_dump succeeded and `pg_restore --list` read it back.

Users keep writing while a backup is taken. The row counts and row checksums of the sidecar and the dump
are therefore read in one snapshot: a psql session opens a repeatable-read transaction, exports its
snapshot (pg_export_snapshot), counts and hashes the key tables' rows in it, and stays open while
`pg_dump --snapshot` dumps exactly what it counted. A restore of the dump then holds exactly the
recorded rows, however busy the database was; what users wrote after the snapshot is in the database
the restore replaces. The checksums also catch a dump altered after the fact, its sha256 recomputed.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import subprocess
import tempfile
import uuid

ID_RE = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[a-z_]+(-[A-Za-z0-9._-]+)?$")
TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
TAGS = ("manual", "pre_deploy", "before_rollback", "imported")
CHUNK = 1 << 20


def compose_options(required=False, database=True):
    """Argument spec of the compose project options (doc fragments runbook.rollback.compose[.database])."""
    spec = dict(
        compose_argv=dict(type="list", elements="str", required=required),
        # The environment compose interpolates from: it may carry the database password, never shown.
        compose_env=dict(type="dict", default={}, no_log=True),
    )
    if database:
        spec["service"] = dict(type="str", default="postgres")
        spec["db_user"] = dict(type="str", default="")
    return spec


class BackupError(Exception):
    """A backup that cannot be made, read or trusted; the message is one line."""


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def make_id(now, tag, version=None):
    if tag not in TAGS:
        raise BackupError("unknown backup tag %r: use %s" % (tag, ", ".join(TAGS)))
    base = "%s-%s" % (now.strftime("%Y%m%dT%H%M%SZ"), tag)
    if version:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", version)
        base += "-" + safe
    return base


def check_id(backup_id):
    if not isinstance(backup_id, str) or not ID_RE.fullmatch(backup_id):
        raise BackupError("malformed backup id %r: expected like 20261128T150000Z-manual-v1.2.3" % (backup_id,))
    return backup_id


def check_tables(tables):
    for table in tables:
        if not isinstance(table, str) or not TABLE_RE.fullmatch(table):
            raise BackupError("table name %r is not a plain SQL identifier" % (table,))
    return tables


# Every table of the database, as the other queries name them: its own name in public, schema.name elsewhere.
# Partitions are counted through their parent; system schemas are left out.
ALL_TABLES_SQL = (
    "SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END AS name "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%' "
    "ORDER BY 1;"
)


def all_tables(query):
    """The names of every table `query(sql)` -> (rc, stdout, stderr) sees, in order. A name that is not a
    plain identifier (a space, a dot in it) cannot be checked by name and is left out."""
    rc, out, err = query(ALL_TABLES_SQL)
    if rc != 0:
        raise BackupError("listing the tables failed: %s" % first_line(err, "rc %d" % rc))
    return [name for name in out.splitlines() if TABLE_RE.fullmatch(name)]


def tables_of(meta, tables):
    """The tables a restore of `meta` is checked on: those asked for, else every table its backup counted."""
    return list(tables) or sorted((meta.get("row_counts") or {}).keys())


def quote_table(table):
    return ".".join('"%s"' % part for part in table.split("."))


def existing_query(tables):
    """SQL listing which of `tables` exist (one name per line). A name is the table's own, case and all
    (Prisma's "User" is not user): to_regclass gets it quoted, as every other query does."""
    # No table: one row that never matches, so the query stays valid SQL.
    pairs = ", ".join("('%s', '%s')" % (t, quote_table(t)) for t in check_tables(tables)) or "(NULL, NULL)"
    # Names passed check_tables (plain identifiers): nothing from them can break out of the quotes.
    return "SELECT name FROM (VALUES %s) AS t(name, quoted) WHERE to_regclass(quoted) IS NOT NULL;" % pairs  # noqa: S608


def count_query(tables):
    """SQL returning "table|count" lines for `tables` (which must exist)."""
    parts = ["SELECT '%s', count(*) FROM %s" % (t, quote_table(t)) for t in check_tables(tables)]  # noqa: S608
    return " UNION ALL ".join(parts) + ";"


def checksum_query(tables):
    """SQL returning "table|checksum" lines for `tables` (which must exist): the sum of a 64-bit hash of
    every row's text, which no row order changes and a changed byte in any row does."""
    parts = [
        "SELECT '%s', coalesce(sum(hashtextextended(r::text, 0)::numeric), 0) FROM %s r" % (t, quote_table(t))  # noqa: S608
        for t in check_tables(tables)
    ]
    return " UNION ALL ".join(parts) + ";"


def parse_checksums(stdout):
    found = {}
    for line in stdout.splitlines():
        name, sep, value = line.rpartition("|")
        if sep and name:
            found[name] = value.strip()
    return found


def row_checksums(compose, database, tables, query=None):
    """{table: checksum} of the tables of `tables` that exist (see checksum_query)."""

    def one_psql(sql):
        return compose.run("psql", "--no-psqlrc", "-At", "-d", database, "-c", sql)

    if not tables:
        return {}
    rc, out, err = (query or one_psql)(checksum_query(tables))
    if rc != 0:
        raise BackupError("reading the rows of %s failed: %s" % (database, first_line(err, "rc %d" % rc)))
    return parse_checksums(out)


def row_counts(compose, database, tables, query=None):
    """{table: rows, or None when the table does not exist}.

    query(sql) -> (rc, stdout, stderr) runs the SQL; by default one psql per query on `database`, or the
    statements of an open Session (the counts of a snapshot)."""

    def one_psql(sql):
        return compose.run("psql", "--no-psqlrc", "-At", "-d", database, "-c", sql)

    query = query or one_psql
    rc, out, err = query(existing_query(tables))
    if rc != 0:
        raise BackupError("reading the tables of %s failed: %s" % (database, first_line(err, "rc %d" % rc)))
    present = [t for t in tables if t in set(out.split())]
    counts = {t: None for t in tables}
    if present:
        rc, out, err = query(count_query(present))
        if rc != 0:
            raise BackupError("counting rows in %s failed: %s" % (database, first_line(err, "rc %d" % rc)))
        counts.update(parse_counts(out))
    return counts


def size_of(compose, database):
    """Bytes on disk of `database` (pg_database_size), what restoring its dump needs again."""
    sql = "SELECT pg_database_size(current_database())"
    rc, out, err = compose.run("psql", "--no-psqlrc", "-At", "-d", database, "-c", sql)
    if rc != 0:
        raise BackupError("reading the size of %s failed: %s" % (database, first_line(err, "rc %d" % rc)))
    return int(out.strip())


def parse_counts(stdout):
    counts = {}
    for line in stdout.splitlines():
        if "|" in line:
            name, _unused, value = line.partition("|")
            counts[name] = int(value)
    return counts


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def paths(directory, backup_id):
    check_id(backup_id)
    return os.path.join(directory, backup_id + ".dump"), os.path.join(directory, backup_id + ".json")


def read_sidecars(directory):
    """(backups oldest first, warnings) from the JSON sidecars in `directory`."""
    backups, warnings = [], []
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return [], []
    for name in names:
        if not name.endswith(".json"):
            continue
        path = os.path.join(directory, name)
        try:
            with open(path) as fh:
                meta = json.load(fh)
            check_id(meta.get("id"))
        except (OSError, ValueError, BackupError) as exc:
            warnings.append("ignored %s: %s" % (name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
            continue
        meta["dump_present"] = os.path.exists(os.path.join(directory, meta["id"] + ".dump"))
        backups.append(meta)
    backups.sort(key=lambda m: (m.get("created_at") or "", m["id"]))
    return backups, warnings


# Who psql, pg_dump and pg_restore connect as when no database user is named: the container's own PGUSER;
# else, when `docker exec` runs as root (the official postgres image, whose root is no database role), its
# POSTGRES_USER or postgres; else the user the container runs as. The command itself is passed as arguments
# ("$@"), never as shell text.
AS_DB_USER = (
    'if [ -z "${PGUSER:-}" ] && [ "$(id -u)" = 0 ]; then PGUSER="${POSTGRES_USER:-postgres}"; export PGUSER; fi; '
    'exec "$@"'
)


class Compose:
    """`docker compose exec -T <service> ...` for one project, argv only (the command is never shell text)."""

    def __init__(self, argv, service, env=None, timeout=None, db_user=None):
        self.argv = list(argv)
        self.service = service
        self.env = dict(os.environ, **{k: str(v) for k, v in (env or {}).items()})
        self.timeout = timeout
        self.db_user = db_user or None
        # The service's running container, found at the first command (None: not looked for yet).
        self._container = None
        self._docker = []

    def _exec_prefix(self):
        """How to run a command in the service's container: ``docker exec -i <id>`` once its id is known (a
        tenth of a second less per command than ``docker compose exec``, which reads the project each time: a
        restore's swap runs four while users wait), else ``docker compose exec -T <service>``."""
        if self._container is None:
            self._container = ""
            docker = self.argv[: self.argv.index("compose")] if "compose" in self.argv[1:] else []
            if docker:
                try:
                    ps = subprocess.run(self.argv + ["ps", "-q", self.service], capture_output=True, env=self.env,
                                        timeout=60, check=False)  # fmt: skip
                    ids = ps.stdout.decode("utf-8", "replace").split() if ps.returncode == 0 else []
                except (OSError, subprocess.TimeoutExpired):
                    ids = []
                if len(ids) == 1:
                    self._container = ids[0]
                    self._docker = docker
        if self._container:
            return self._docker + ["exec", "-i"], [self._container]
        return self.argv + ["exec", "-T"], [self.service]

    def exec_argv(self, *command):
        prefix, target = self._exec_prefix()
        if self.db_user:
            return prefix + ["-e", "PGUSER=%s" % self.db_user] + target + list(command)
        return prefix + target + ["sh", "-c", AS_DB_USER, "sh"] + list(command)

    def run(self, *command, stdin=None):
        proc = subprocess.run(self.exec_argv(*command), stdin=stdin, capture_output=True, env=self.env,
                              timeout=self.timeout, check=False)  # fmt: skip
        return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")

    def database_name(self):
        """The application database's name by the official postgres image's conventions (PGDATABASE, else
        POSTGRES_DB, else POSTGRES_USER, else postgres), as the container says it."""
        rc, out, err = self.run("sh", "-c", 'printf "%s" "${PGDATABASE:-${POSTGRES_DB:-${POSTGRES_USER:-postgres}}}"')
        if rc != 0 or not out:
            raise BackupError("cannot read the database's name in the %s container: %s"
                              % (self.service, first_line(err, "rc %d" % rc)))  # fmt: skip
        return out

    def stream_to(self, dest, *command):
        """Run command, writing its stdout to dest; return (rc, stderr, size, sha256)."""
        digest, size = hashlib.sha256(), 0
        # Dumps hold user data (password hashes included): readable by the owner and group only.
        with os.fdopen(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640), "wb") as out:
            proc = subprocess.Popen(self.exec_argv(*command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env=self.env)  # fmt: skip
            for chunk in iter(lambda: proc.stdout.read(CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
            stderr = proc.stderr.read().decode("utf-8", "replace")
            proc.wait()
        return proc.returncode, stderr, size, digest.hexdigest()


class Session:
    """One psql session in the database container, kept open across statements (a transaction's life).

    query(sql) sends the statements and returns (0, their output, "") once psql has answered them all,
    or (1, output so far, psql's error) when psql stopped at an error (ON_ERROR_STOP) or ended.
    """

    def __init__(self, compose, database):
        self.compose = compose
        self.database = database
        self.proc = None
        self.errors = None

    def __enter__(self):
        self.errors = tempfile.TemporaryFile()
        argv = self.compose.exec_argv("psql", "--no-psqlrc", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", self.database)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors,
                                     env=self.compose.env, encoding="utf-8", errors="replace", bufsize=1)  # fmt: skip
        return self

    def _error(self, default):
        self.errors.seek(0)
        return self.errors.read().decode("utf-8", "replace") or default

    def query(self, sql):
        # psql echoes the marker once every statement before it has been answered.
        marker = "--runbook-%s--" % uuid.uuid4().hex
        try:
            self.proc.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo " + marker + "\n")
            self.proc.stdin.flush()
        except OSError:
            return 1, "", self._error("psql ended")
        lines = []
        for line in self.proc.stdout:
            if line.rstrip("\n") == marker:
                return 0, "".join(lines), ""
            lines.append(line)
        self.proc.wait()
        return 1, "".join(lines), self._error("psql ended (rc %s)" % self.proc.returncode)

    def __exit__(self, *exc):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self.errors.close()
        return False


def snapshot(session, database):
    """Open a repeatable-read transaction in `session` and export its snapshot; return the snapshot id."""
    rc, out, err = session.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_export_snapshot()")
    ids = [line.strip() for line in out.splitlines() if line.strip() and line.strip() != "BEGIN"]
    if rc != 0 or not ids:
        raise BackupError("exporting a snapshot of %s failed: %s" % (database, first_line(err, "no snapshot id")))
    return ids[-1]


def human(size):
    """A byte count as people read it: 812 B, 47.1 KiB, 95.0 MiB."""
    value = float(size or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return "%.0f %s" % (value, unit) if unit == "B" else "%.1f %s" % (value, unit)
        value /= 1024
    return "%.1f TiB" % value


def first_line(text, default):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[0][:200] if lines else default


def list_archive(compose, dump_path):
    """Entries of a custom-format archive read by pg_restore --list inside the container."""
    with open(dump_path, "rb") as fh:
        rc, out, err = compose.run("pg_restore", "--list", stdin=fh)
    if rc != 0:
        reason = first_line(err, "rc %d" % rc)
        raise BackupError("pg_restore cannot read %s: %s" % (os.path.basename(dump_path), reason))
    entries = [line for line in out.splitlines() if line and not line.startswith(";")]
    if not entries:
        raise BackupError("%s lists no entries" % os.path.basename(dump_path))
    return entries


def verify(compose, directory, meta):
    """Check a backup before use: file present, size and sha256 as recorded, archive readable."""
    dump_path, _unused = paths(directory, meta["id"])
    if not os.path.exists(dump_path):
        raise BackupError("backup %s: the dump %s is missing" % (meta["id"], dump_path))
    size = os.path.getsize(dump_path)
    if size != meta.get("size"):
        raise BackupError("backup %s: size %d, but %s was recorded" % (meta["id"], size, meta.get("size")))
    digest = sha256_file(dump_path)
    if digest != meta.get("sha256"):
        recorded = str(meta.get("sha256"))[:12]
        raise BackupError("backup %s: sha256 %s does not match the recorded %s" % (meta["id"], digest[:12], recorded))
    return list_archive(compose, dump_path)


def take(compose, directory, database, tables, tag, version=None, now=None):
    """Dump `database`, verify the archive, count rows and write the sidecar; return the sidecar."""
    now = now or utc_now()
    backup_id = make_id(now, tag, version)
    dump_path, meta_path = paths(directory, backup_id)
    os.makedirs(directory, mode=0o750, exist_ok=True)
    if os.path.exists(meta_path) or os.path.exists(dump_path):
        raise BackupError("backup %s exists already; not overwriting it" % backup_id)
    partial = dump_path + ".partial"
    try:
        # The counts and the dump from one snapshot: the session's transaction stays open until pg_dump is done.
        with Session(compose, database) as session:
            snapshot_id = snapshot(session, database)
            tables = list(tables) or all_tables(session.query)
            counts = row_counts(compose, database, tables, query=session.query)
            checksums = row_checksums(compose, database, [t for t in tables if counts.get(t) is not None],
                                      query=session.query)  # fmt: skip
            rc, err, size, digest = compose.stream_to(
                partial, "pg_dump", "--format=custom", "--snapshot=" + snapshot_id, "--dbname=" + database
            )
            if rc != 0:
                raise BackupError("pg_dump of %s failed: %s" % (database, first_line(err, "rc %d" % rc)))
            session.query("COMMIT")
        entries, database_size = seal(compose, partial, dump_path, database)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    meta = {
        "id": backup_id,
        "tag": tag,
        "database": database,
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "version": version,
        "format": "custom",
        "file": os.path.basename(dump_path),
        "size": size,
        "database_size": database_size,
        "sha256": digest,
        "archive_entries": len(entries),
        "row_counts": counts,
        "row_checksums": checksums,
        # The counts and checksums are the dump's own: all were read in this snapshot.
        "consistent": True,
        "verified": True,
    }
    write_sidecar(meta_path, meta)
    return meta


def seal(compose, partial, dump_path, database):
    """A finished dump made the backup's: read back by pg_restore, then renamed into place; (its archive's
    entries, the size of the database it was taken of)."""
    entries = list_archive(compose, partial)
    database_size = size_of(compose, database)
    os.rename(partial, dump_path)
    return entries, database_size


def write_sidecar(meta_path, meta):
    """Write a sidecar whole or not at all: a temporary file, synced, renamed into place."""
    tmp = meta_path + ".tmp"
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640), "w") as fh:
        json.dump(meta, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.rename(tmp, meta_path)
