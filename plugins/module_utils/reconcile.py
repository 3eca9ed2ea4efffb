# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a restore left behind: rows of the kept database that the restored one does not have.

A restore brings the database back to the backup; whatever users wrote between the backup and the
rollback is then only in `<db>_before_rollback_<stamp>`. For each key table, both databases stream
the columns they share (`COPY ... TO STDOUT`, text format, so NULL and the empty string stay apart);
a kept row counts as missing when no restored row has the same values in those columns. Comparing
whole rows, not primary keys, matters: a migration that recreated a table restarts its ids, so a row
written after the deployment can carry the id of an older, different row.

Missing rows are written, with every column of the kept table, as CSV that PostgreSQL reads back with
`COPY <table> FROM '<file>' WITH (FORMAT csv, HEADER)`: every value quoted, NULL left empty.
"""

from __future__ import annotations

import collections
import hashlib
import os
import subprocess

from ansible_collections.runbook.rollback.plugins.module_utils.backup import (
    BackupError,
    check_tables,
    first_line,
    quote_table,
)
from ansible_collections.runbook.rollback.plugins.module_utils.restore import check_db_name, literal, psql

# The table name goes in as a quoted literal.
COLUMNS_SQL = (
    "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped "
    "ORDER BY attnum"
)
ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def decode_field(raw):
    """One field of COPY's text format: None for NULL, else the value with its escapes undone."""
    if raw == "\\N":
        return None
    if "\\" not in raw:
        return raw
    out, i = [], 0
    while i < len(raw):
        ch = raw[i]
        if ch != "\\" or i + 1 == len(raw):
            out.append(ch)
            i += 1
            continue
        nxt = raw[i + 1]
        if nxt in ESCAPES:
            out.append(ESCAPES[nxt])
            i += 2
        elif nxt in "01234567":
            j = i + 1
            while j < len(raw) and j < i + 4 and raw[j] in "01234567":
                j += 1
            out.append(chr(int(raw[i + 1 : j], 8)))
            i = j
        elif nxt == "x" and i + 2 < len(raw) and raw[i + 2] in "0123456789abcdefABCDEF":
            j = i + 2
            while j < len(raw) and j < i + 4 and raw[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(chr(int(raw[i + 2 : j], 16)))
            i = j
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


def csv_line(values):
    """A CSV line PostgreSQL reads back exactly: values quoted, NULL (None) as an empty unquoted field."""
    return ",".join("" if v is None else '"%s"' % v.replace('"', '""') for v in values) + "\n"


def table_columns(compose, database, table):
    """Column names of `table` in `database`, in order; [] when the table does not exist."""
    sql = COLUMNS_SQL % literal(table)
    return psql(compose, sql, database=database, what="reading the columns of %s in %s" % (table, database)).split()


def copy_rows(compose, database, table, columns):
    """Yield each row of `table` (only `columns`) as the list of its raw COPY text fields."""
    cols = ", ".join('"%s"' % c.replace('"', '""') for c in columns)
    sql = "COPY (SELECT %s FROM %s) TO STDOUT" % (cols, quote_table(table))  # noqa: S608 - checked identifiers
    argv = compose.exec_argv("psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=compose.env)
    try:
        for line in proc.stdout:
            yield line.decode("utf-8", "surrogateescape").rstrip("\n").split("\t")
        err = proc.stderr.read().decode("utf-8", "replace")
        if proc.wait() != 0:
            raise BackupError(
                "reading %s from %s failed: %s" % (table, database, first_line(err, "rc %d" % proc.returncode))
            )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def digest(fields):
    return hashlib.blake2b("\t".join(fields).encode("utf-8", "surrogateescape"), digest_size=16).digest()


def missing_rows(kept_rows, restored_rows, shared):
    """Yield the kept rows (all their fields) that no restored row matches on the `shared` positions.

    kept_rows: iterable of field lists whose first len(shared) fields are the shared columns;
    restored_rows: iterable of field lists of the shared columns only. Duplicates count one for one.
    """
    have = collections.Counter(digest(row) for row in restored_rows)
    n = len(shared)
    for row in kept_rows:
        key = digest(row[:n])
        if have[key] > 0:
            have[key] -= 1
        else:
            yield row


def reconcile(compose, kept, database, tables, dest):
    """Compare each table of `kept` with `database`; write the missing rows to `dest/<table>.csv`.

    Returns {table: {kept_rows, missing_rows, file, note}}.
    """
    check_db_name(kept)
    check_db_name(database)
    os.makedirs(dest, mode=0o750, exist_ok=True)
    report = {}
    for table in check_tables(list(tables)):
        kept_cols = table_columns(compose, kept, table)
        if not kept_cols:
            report[table] = {"kept_rows": 0, "missing_rows": 0, "file": None, "note": "not in %s" % kept}
            continue
        restored_cols = set(table_columns(compose, database, table))
        shared = [c for c in kept_cols if c in restored_cols]
        order = shared + [c for c in kept_cols if c not in restored_cols]
        note = None
        if not restored_cols:
            note = "not in the restored %s: every row is missing" % database
        elif len(shared) < len(kept_cols):
            note = "compared on the %d shared columns; %s only in %s" % (
                len(shared),
                ", ".join(order[len(shared) :]),
                kept,
            )
        restored_rows = copy_rows(compose, database, table, shared) if shared else iter(())
        path = os.path.join(dest, table + ".csv")
        partial = path + ".partial"
        kept_count = missing = 0
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640), "w", encoding="utf-8",
                       errors="surrogateescape", newline="") as out:  # fmt: skip
            out.write(",".join('"%s"' % c.replace('"', '""') for c in order) + "\n")

            def counted(rows):
                nonlocal kept_count
                for row in rows:
                    kept_count += 1
                    yield row

            for row in missing_rows(counted(copy_rows(compose, kept, table, order)), restored_rows, shared):
                out.write(csv_line([decode_field(f) for f in row]))
                missing += 1
        if missing:
            os.replace(partial, path)
        else:
            os.unlink(partial)
            path = None
        report[table] = {"kept_rows": kept_count, "missing_rows": missing, "file": path, "note": note}
    return report


def summary_line(report):
    return ", ".join("%s %d" % (t, r["missing_rows"]) for t, r in report.items())
