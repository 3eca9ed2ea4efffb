# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restoring a backup with production untouched until the last moment.

The chosen dump is restored into a side database (`<db>_restore_<stamp>`) while the running release
keeps serving from `<db>`. Only once the side database holds every table with the sidecar's row
counts are the application services stopped; then new connections to `<db>` are refused
(ALLOW_CONNECTIONS false), the sessions left are ended, and one transaction renames `<db>` to
`<db>_before_rollback_<stamp>` (kept, never dropped by the tool) and the side database to `<db>`, and
marks the restored `<db>` with a comment naming the backup and the kept database.
Every SQL statement runs through `docker compose exec -T <service>` as the container's postgres user.

What the server holds is the truth a run reports and resumes from, not what a run remembers: a run
killed (or a server paused) at any point leaves databases whose names and mark say what happened.
`state()` reads them: side databases of a run that died (dropped before the next restore), kept
databases (reported, never dropped), whether `<db>` is the restore of a backup (so that a re-run resumes
after the swap instead of restoring twice), and whether `<db>` still refuses connections (a swap cut
off between its two transactions; allowed again before anything else).
"""

from __future__ import annotations

import datetime
import os
import re
import time

from ansible_collections.runbook.rollback.plugins.module_utils.backup import (
    BackupError,
    check_tables,
    first_line,
    human,
    row_checksums,
    row_counts,
    tables_of,
    verify,
)

DB_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
PG_NAME_MAX = 63
SIDE_INFIX = "_restore_"
KEPT_INFIX = "_before_rollback_"
# The dump copies a parallel restore leaves in the database container's /tmp: /tmp/<backup id>.dump.
DUMP_COPY_GLOB = "[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-*.dump"
# The comment on a database the swap put in place: "runbook.rollback restore: backup=<id> kept=<name>".
MARK_PREFIX = "runbook.rollback restore:"
MARK_RE = re.compile(r"runbook\.rollback restore: backup=(?P<backup>\S+) kept=(?P<kept>\S+)")
# A dump's contents compress to roughly a quarter of the database, or better; used only when a sidecar
# predates the database_size field.
DUMP_TO_DATABASE = 4


def check_db_name(name, what="database"):
    if not isinstance(name, str) or not DB_RE.fullmatch(name) or len(name) > PG_NAME_MAX:
        raise BackupError("%s name %r must be a plain identifier of at most %d characters" % (what, name, PG_NAME_MAX))
    return name


def ident(name):
    return '"%s"' % check_db_name(name).replace('"', '""')


def literal(text):
    return "'%s'" % str(text).replace("'", "''")


def names(database, stamp):
    """(side, kept) database names for one restore."""
    if not isinstance(stamp, str) or not re.fullmatch(r"[0-9]{8}_[0-9]{6}", stamp):
        raise BackupError("restore stamp %r must look like 20261128_150000" % (stamp,))
    return (check_db_name(database + SIDE_INFIX + stamp, "side database"),
            check_db_name(database + KEPT_INFIX + stamp, "kept database"))  # fmt: skip


def stamp_of(now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y%m%d_%H%M%S")


# --- Choosing the backup ------------------------------------------------------------------------


def bad_deployment(entries):
    """The deployment that brought the running release: the newest deploy of the current version that
    changed the version. None when the history has none."""
    if not entries:
        return None
    current = entries[-1].get("version")
    for entry in reversed(entries):
        if entry.get("version") != current:
            break
        if entry.get("action", "deploy") == "deploy" and entry.get("from_version") != current:
            return entry
    return None


def _usable(meta):
    if not meta.get("dump_present", True):
        return "its dump file is missing"
    if meta.get("verified") is not True:
        return "it was never verified"
    return None


def choose(backups, entries, backup_id=None, backup_date=None, version=None):
    """(sidecar, reason) of the backup to restore; BackupError with one line when there is none.

    version fills in the release of a sidecar that does not record one.

    backups: sidecars oldest first (read_sidecars); entries: the deployment history, oldest first.
    """
    if backup_id and backup_date:
        raise BackupError("name a backup by id or by date, not both")
    if backup_id:
        meta = next((b for b in backups if b["id"] == backup_id), None)
        if meta is None:
            raise BackupError("no backup %r; restore.yml -e list=true lists them" % (backup_id,))
        reason = "named with -e backup"
    elif backup_date:
        if not DATE_RE.fullmatch(str(backup_date)):
            raise BackupError("backup_date %r must look like 2025-11-15" % (backup_date,))
        eligible = [b for b in backups if b.get("tag") != "before_rollback"]
        candidates = [b for b in eligible if (b.get("created_at") or "")[:10] == backup_date]
        if not candidates:
            dates = sorted({(b.get("created_at") or "?")[:10] for b in eligible})
            raise BackupError(
                "no backup taken on %s (backups exist for: %s)" % (backup_date, ", ".join(dates) or "none")
            )
        meta = candidates[-1]
        reason = "newest of the %d backup(s) taken on %s" % (len(candidates), backup_date)
    else:
        bad = bad_deployment(entries)
        if bad is None:
            raise BackupError(
                "the history shows no deployment to undo; name a backup with -e backup=ID or -e backup_date=YYYY-MM-DD"
            )
        meta = next((b for b in backups if bad.get("backup") and b["id"] == bad.get("backup")), None)
        if meta is not None:
            reason = "pre-deploy backup of the deployment of %s at %s" % (bad["version"], bad.get("at"))
        else:
            at = bad.get("at") or ""
            before = [b for b in backups if b.get("tag") != "before_rollback" and (b.get("created_at") or "") <= at]
            if not before:
                raise BackupError("no backup was taken before the deployment of %s at %s; name one with -e backup=ID"
                                  % (bad["version"], bad.get("at")))  # fmt: skip
            meta = before[-1]
            reason = "newest backup before the deployment of %s at %s" % (bad["version"], bad.get("at"))
    problem = _usable(meta)
    if problem:
        raise BackupError("backup %s cannot be restored: %s" % (meta["id"], problem))
    if not meta.get("version"):
        if not version:
            raise BackupError(
                "backup %s does not record the release it was taken on; name it with -e version" % meta["id"]
            )
        # The operator names the release a sidecar could not record.
        return dict(meta, version=version), reason + "; release %s named with -e version" % version
    # Whether another release than the backup's fits its schema is the playbook's check (the migrations).
    return meta, reason


# --- Reading the server (names go into the SQL as quoted literals) ----------------------------
DATABASE_SQL = "SELECT pg_get_userbyid(datdba), pg_database_size(datname) FROM pg_database WHERE datname = %s"
CONNECTIONS_SQL = (
    "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = %s), current_setting('max_connections')::int"
)


def psql(compose, sql, database="postgres", what="psql"):
    rc, out, err = compose.run("psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-At", "-d", database, "-c", sql)
    if rc != 0:
        raise BackupError("%s failed: %s" % (what, first_line(err, "rc %d" % rc)))
    return out


def database_info(compose, database):
    """dict(owner, size) of `database`, or None when it does not exist."""
    sql = DATABASE_SQL % literal(check_db_name(database))
    out = psql(compose, sql, what="reading database %s" % database)
    line = out.strip()
    if not line:
        return None
    owner, _unused, size = line.partition("|")
    return {"owner": owner, "size": int(size)}


def free_bytes_in_container(compose, path):
    rc, out, err = compose.run("df", "-Pk", path)
    if rc != 0:
        raise BackupError("df %s in the database container failed: %s" % (path, first_line(err, "rc %d" % rc)))
    fields = out.strip().splitlines()[-1].split()
    return int(fields[3]) * 1024


def data_directory(compose):
    return psql(compose, "SHOW data_directory", what="reading the data directory").strip()


def space_needs(meta, current_size, jobs, margin):
    """Bytes needed (emergency dump on the host, side database in the container)."""
    ratio = meta["size"] / meta["database_size"] if meta.get("database_size") else 1.0
    emergency = int(current_size * ratio * margin)
    restored = meta.get("database_size") or max(current_size, meta["size"] * DUMP_TO_DATABASE)
    side = int(restored * margin) + (meta["size"] if jobs > 1 else 0)
    return emergency, side


def check(compose, directory, meta, database, jobs=2, margin=1.5):
    """Read-only preflight of a restore: the backup verifies, the database exists, disk space suffices."""
    entries = verify(compose, directory, meta)
    info = database_info(compose, database)
    if info is None:
        raise BackupError("database %s does not exist in the %s service" % (database, compose.service))
    data_dir = data_directory(compose)
    host_free = free_bytes_host(directory)
    pg_free = free_bytes_in_container(compose, data_dir)
    emergency, side = space_needs(meta, info["size"], jobs, margin)
    if host_free < emergency:
        raise BackupError("%s has %s free; the emergency backup of %s needs about %s"
                          % (directory, human(host_free), database, human(emergency)))  # fmt: skip
    if pg_free < side:
        raise BackupError("the database volume (%s) has %s free; restoring %s beside %s needs about %s"
                          % (data_dir, human(pg_free), meta["id"], database, human(side)))  # fmt: skip
    return {
        "archive_entries": len(entries),
        "owner": info["owner"],
        "database_size": info["size"],
        "space": {"host_free": host_free, "host_needed": emergency, "volume_free": pg_free, "volume_needed": side},
    }


def free_bytes_host(directory):
    path = directory
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


# --- Restoring -----------------------------------------------------------------------------------


def restore_side(compose, directory, meta, database, side, owner, tables, jobs=2):
    """Restore the backup into `side` and check it against the sidecar; the side database is dropped
    again when anything fails. Returns the side database's row counts."""
    if not side.startswith(database + SIDE_INFIX):
        raise BackupError("side database %s must start with %s%s" % (side, database, SIDE_INFIX))
    if database_info(compose, side) is not None:
        raise BackupError("database %s exists already; not restoring over it" % side)
    dump_path = os.path.join(directory, meta["id"] + ".dump")
    psql(compose, "CREATE DATABASE %s OWNER %s TEMPLATE template0" % (ident(side), ident(owner)),
         what="creating %s" % side)  # fmt: skip
    inside = "/tmp/%s.dump" % meta["id"]  # noqa: S108 - the database container's own /tmp
    try:
        common = ["pg_restore", "--exit-on-error", "--no-owner", "--role=" + owner, "--dbname=" + side]
        if jobs > 1:
            # Parallel restore needs a seekable archive: copy it into the container first.
            with open(dump_path, "rb") as fh:
                rc, _unused, err = compose.run("sh", "-c", 'umask 077 && cat > "$1"', "sh", inside, stdin=fh)
            if rc != 0:
                raise BackupError(
                    "copying %s into the %s container failed: %s"
                    % (meta["id"], compose.service, first_line(err, "rc %d" % rc))
                )
            rc, _unused, err = compose.run(*common, "--jobs=%d" % jobs, inside)
        else:
            with open(dump_path, "rb") as fh:
                rc, _unused, err = compose.run(*common, stdin=fh)
        if rc != 0:
            raise BackupError("restoring %s into %s failed: %s" % (meta["id"], side, first_line(err, "rc %d" % rc)))
        tables = tables_of(meta, tables)
        counts = row_counts(compose, side, check_tables(tables))
        expected = meta.get("row_counts") or {}
        wrong = ["%s %s (backup: %s)" % (t, counts.get(t), expected[t]) for t in tables
                 if t in expected and counts.get(t) != expected[t]]  # fmt: skip
        sums = meta.get("row_checksums") or {}
        if sums and not wrong:
            restored = row_checksums(compose, side, [t for t in tables if t in sums])
            wrong = ["%s rows differ from the backup's (checksum)" % t for t in tables
                     if t in sums and restored.get(t) != sums[t]]  # fmt: skip
        if wrong:
            raise BackupError("the restored %s does not match backup %s: %s" % (side, meta["id"], ", ".join(wrong)))
        # Fresh statistics, so the first queries after the swap get good plans.
        psql(compose, "ANALYZE", database=side, what="analyzing %s" % side)
        return counts
    except BaseException:
        drop_side(compose, database, side)
        raise
    finally:
        if jobs > 1:
            compose.run("rm", "-f", inside)


def drop_side(compose, database, side):
    """Drop a side database of this tool; refuses any other name. True when one was dropped."""
    if not side.startswith(database + SIDE_INFIX):
        raise BackupError(
            "refusing to drop %s: only side databases (%s%s...) are dropped" % (side, database, SIDE_INFIX)
        )
    if database_info(compose, side) is None:
        return False
    psql(compose, "DROP DATABASE %s WITH (FORCE)" % ident(side), what="dropping %s" % side)
    return True


SEQUENCES_SQL = (
    "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value FROM pg_sequences"
    " WHERE last_value IS NOT NULL ORDER BY 1"
)


def parse_sequences(stdout):
    """{qualified sequence name: last value} from SEQUENCES_SQL's "name|value" lines."""
    found = {}
    for line in stdout.splitlines():
        name, sep, value = line.rpartition("|")
        if sep and name:
            found[name] = int(value)
    return found


def advance_sql(sequences):
    """SQL moving each sequence that exists in the database it runs in up to at least the given value."""
    if not sequences:
        return None
    values = ", ".join("(%s, %d)" % (literal(name), int(value)) for name, value in sorted(sequences.items()))
    return (
        "SELECT count(setval(c.oid, greatest(v.value, coalesce(s.last_value, 0)), true))"  # noqa: S608 - literals
        " FROM (VALUES %s) AS v(name, value)"
        " JOIN pg_class c ON c.oid = to_regclass(v.name)"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_sequences s ON s.schemaname = n.nspname AND s.sequencename = c.relname"
        " WHERE v.value >= 1" % values
    )


def advance_sequences(compose, database, side):
    """Move the side database's sequences up to where `database` has them.

    Rows written after the backup used ids the backup's sequences would hand out again. Were they reused,
    a session, cache entry or e-mail link naming such an id would point at somebody else's new row, and the
    rows exported for reconciliation could not be put back with their own ids. Returns how many moved."""
    current = parse_sequences(
        psql(compose, SEQUENCES_SQL, database=database, what="reading the sequences of %s" % database)
    )
    sql = advance_sql(current)
    if sql is None:
        return 0
    return int(psql(compose, sql, database=side, what="advancing the sequences of %s" % side).strip() or 0)


def mark(backup_id, kept):
    """The comment the swap puts on the restored database."""
    return "%s backup=%s kept=%s" % (MARK_PREFIX, backup_id, check_db_name(kept, "kept database"))


def parse_mark(comment):
    """{backup, kept} from a database comment written by the swap, or None."""
    found = MARK_RE.search(comment or "")
    return found.groupdict() if found else None


STATE_SQL = (
    "SELECT datname, datallowconn, coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database"
    " WHERE datname = {db} OR starts_with(datname, {side}) OR starts_with(datname, {kept}) ORDER BY datname"
)


def state(compose, database):
    """What the server holds of `database` and of earlier restores of it.

    {exists, allow_connections, restored: {backup, kept} or None, sides: [names], kept: [names]}"""
    sql = STATE_SQL.format(db=literal(check_db_name(database)), side=literal(database + SIDE_INFIX),
                           kept=literal(database + KEPT_INFIX))  # fmt: skip
    found = {"exists": False, "allow_connections": None, "restored": None, "sides": [], "kept": []}
    for line in psql(compose, sql, what="reading the databases of %s" % database).splitlines():
        name, _unused, rest = line.partition("|")
        allow, _unused, comment = rest.partition("|")
        if name == database:
            found.update(exists=True, allow_connections=allow == "t", restored=parse_mark(comment))
        elif name.startswith(database + SIDE_INFIX):
            found["sides"].append(name)
        elif name.startswith(database + KEPT_INFIX):
            found["kept"].append(name)
    return found


def allow_connections(compose, database):
    """Let clients connect to `database` again (a swap cut off after refusing them). True when it changed."""
    current = state(compose, database)
    if not current["exists"] or current["allow_connections"]:
        return False
    psql(compose, "ALTER DATABASE %s ALLOW_CONNECTIONS true" % ident(database),
         what="allowing connections to %s again" % database)  # fmt: skip
    return True


def clean_leftovers(compose, database, keep_side=None):
    """Drop the side databases, and the dump copies in the container's /tmp, that runs which died left
    behind (never `keep_side`, nor anything that is not a side database). Returns the names dropped."""
    dropped = []
    for side in state(compose, database)["sides"]:
        if side != keep_side and drop_side(compose, database, side):
            dropped.append(side)
    # The copies restore_side makes for a parallel restore: /tmp/<backup id>.dump, and only those.
    compose.run("find", "/tmp", "-maxdepth", "1", "-type", "f", "-name", DUMP_COPY_GLOB, "-delete")  # noqa: S108
    return dropped


NAMES_SQL = "SELECT datname FROM pg_database WHERE datname IN (%s, %s)"
BLOCK_SQL = "ALTER DATABASE {db_ident} ALLOW_CONNECTIONS false"
TERMINATE_SQL = (
    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
    " WHERE datname IN ({db}, {side}) AND pid <> pg_backend_pid()"
)
SWAP_SQL = """\
ALTER DATABASE {db_ident} RENAME TO {kept_ident};
ALTER DATABASE {side_ident} RENAME TO {db_ident};
ALTER DATABASE {kept_ident} ALLOW_CONNECTIONS true;
COMMENT ON DATABASE {db_ident} IS {mark};
"""


def swap(compose, database, side, kept, backup_id, attempts=5, pause=1.0):
    """Put the restored `side` in the place of `database`, keeping `database` as `kept`. Returns (attempts,
    sequences advanced).

    The side database's sequences first move past `database`'s; then `database` refuses new connections,
    the sessions left are ended, and one transaction renames both, lets the kept one accept connections
    again (for reconciliation) and marks the restored one with the backup's id. When the rename fails,
    `database` accepts connections again and is unchanged. The application is stopped while this runs: one
    psql reads both names, and one refuses, ends and renames (each of its -c commits on its own)."""
    if not side.startswith(database + SIDE_INFIX) or not kept.startswith(database + KEPT_INFIX):
        raise BackupError("swap names %s / %s do not belong to %s" % (side, kept, database))
    sql = NAMES_SQL % (literal(check_db_name(side)), literal(check_db_name(kept)))
    found = set(psql(compose, sql, what="reading databases %s, %s" % (side, kept)).split())
    if side not in found:
        raise BackupError("side database %s does not exist" % side)
    if kept in found:
        raise BackupError("database %s exists already" % kept)
    names = dict(db=literal(database), side=literal(side), db_ident=ident(database), kept_ident=ident(kept),
                 side_ident=ident(side), mark=literal(mark(backup_id, kept)))  # fmt: skip
    # The application services are stopped: the current sequences no longer move.
    advanced = advance_sequences(compose, database, side)
    # First refused, so that a client that reconnects in a loop (a worker, a pooler) can no longer get in between;
    # then its sessions are ended; then the renames, in one transaction (one -c: one query string).
    commands = [BLOCK_SQL.format(**names), TERMINATE_SQL.format(**names), SWAP_SQL.format(**names)]
    error = None
    for attempt in range(attempts):
        argv = ["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-At", "-d", "postgres"]
        for sql in commands:
            argv += ["-c", sql]
        rc, _unused, err = compose.run(*argv)
        if rc == 0:
            return attempt + 1, advanced
        # The error, not a warning before it (a session slow to end makes pg_terminate_backend warn).
        errors = [line for line in (err or "").splitlines() if line.lstrip().startswith(("ERROR:", "FATAL:"))]
        error = first_line(errors[0] if errors else err, "rc %d" % rc)
        # A session that was still ending: end the sessions and try the renames again (still refused).
        if "being accessed by other users" not in err:
            break
        commands = commands[-2:]
        time.sleep(pause)
    try:
        allow_connections(compose, database)
    except BackupError as exc:
        error += "; and allowing connections to %s again failed: %s" % (database, exc)
    raise BackupError("swapping %s for %s failed, %s is unchanged: %s" % (side, database, database, error))


def count_problems(counts, expected, label="backup"):
    """Tables holding fewer rows than `expected` (the backup's, or the counts before a procedure), or missing.
    More is fine: once the services are back, users write again, and a restore that lost nothing has at least the
    backup's rows."""
    return [
        "%s %s (%s: %s)" % (t, "missing" if counts.get(t) is None else counts[t], label, n)
        for t, n in expected.items()
        if n is not None and t in counts and (counts[t] is None or counts[t] < n)
    ]


def check_counts(compose, database, tables, expected, label="backup"):
    """(counts, problems): `database`'s row counts and the tables with fewer rows than `expected`."""
    counts = row_counts(compose, database, check_tables(list(tables)))
    return counts, count_problems(counts, expected, label)


def connections(compose, database):
    out = psql(compose, CONNECTIONS_SQL % literal(check_db_name(database)), what="counting connections")
    used, _unused, limit = out.strip().partition("|")
    return int(used), int(limit)
