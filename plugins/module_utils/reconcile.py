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
`COPY <table> FROM '<file>' WITH (FORMAT csv, HEADER)`: every value quoted, NULL left empty. That is the
record of what the restore left out, exactly as the kept database holds it.

Loading those rows back as they are would fail or, worse, succeed wrongly: a release whose migration
recreated a table restarted its ids, so a kept row can carry the id of a different restored row, and a
message would then be attached to somebody else's chat; and columns that only the kept database has do
not exist in the restored one. So `reconcile.sql` is written beside them, one transaction that inserts
the missing rows into the restored database without collision: only the columns both databases share,
each table's generated primary key handed out anew, and every foreign key between the key tables
pointed at the new id of the row it referred to (or left as it was when that row was not missing).
Tables go parents first. `psql -v ON_ERROR_STOP=1 -d <db> -f reconcile.sql` loads all of it or nothing.
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

# The table name goes in as a literal of its quoted identifier (to_regclass folds an unquoted name to lower case).
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
    sql = COLUMNS_SQL % literal(quote_table(table))
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


# The restored database's catalog, for the load-back script. Table names go in as literals of their quoted
# identifiers.
TYPES_SQL = (
    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
    " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
)
GENERATED_PK_SQL = (
    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
    " WHERE i.indrelid = to_regclass(%s) AND i.indisprimary AND i.indnatts = 1"
    " AND (a.attidentity <> '' OR EXISTS (SELECT 1 FROM pg_attrdef d WHERE d.adrelid = a.attrelid"
    " AND d.adnum = a.attnum AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%%'))"
)
FOREIGN_KEYS_SQL = (
    "SELECT a.attname, c.confrelid::regclass::text FROM pg_constraint c"
    " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
    " WHERE c.contype = 'f' AND c.conrelid = to_regclass(%s) AND array_length(c.conkey, 1) = 1"
)


def table_shape(compose, database, table):
    """(column types {name: type}, generated primary key or None, foreign keys {column: referenced table})."""
    def rows(sql):
        out = psql(compose, sql % literal(quote_table(table)), database=database,
                   what="reading the shape of %s" % table)
        return [line.split("|") for line in out.splitlines() if "|" in line or line]

    types = {r[0]: r[1] for r in rows(TYPES_SQL) if len(r) == 2}
    pk = next((r[0] for r in rows(GENERATED_PK_SQL) if r and r[0]), None)
    # regclass quotes a name that needs it ("User"); the tables are named without quotes everywhere else.
    fks = {r[0]: r[1].replace('"', "") for r in rows(FOREIGN_KEYS_SQL) if len(r) == 2}
    return types, pk, fks


def parents_first(tables, fks_of):
    """The tables ordered so that a table comes after those its foreign keys refer to (others keep their order)."""
    ordered, todo = [], list(tables)
    while todo:
        for table in todo:
            parents = {ref for ref in fks_of.get(table, {}).values() if ref in todo and ref != table}
            if not parents:
                break
        else:
            table = todo[0]  # a cycle: keep the given order
        ordered.append(table)
        todo.remove(table)
    return ordered


def sql_literal(value, sql_type):
    return "NULL" if value is None else "CAST(%s AS %s)" % (literal(value), sql_type)


def insert_sql(table, columns, values, types, pk, fks, remapped):
    """One INSERT of a missing row: its generated key handed out anew (old -> new kept in pg_temp.reconcile_ids),
    its foreign keys to rows that were remapped pointed at their new ids."""
    # Names are identifiers quoted here or read from the catalog; values go in as quoted literals.
    cols, exprs = [], []
    for column, value in zip(columns, values, strict=True):
        if column == pk:
            continue
        cols.append('"%s"' % column.replace('"', '""'))
        ref = fks.get(column)
        if ref in remapped and value is not None:
            new_id = "(SELECT new_id FROM pg_temp.reconcile_ids WHERE tbl = %s AND old_id = %s)" % (  # noqa: S608
                literal(ref), literal(value))  # fmt: skip
            exprs.append("CAST(coalesce(%s, %s) AS %s)" % (new_id, literal(value), types[column]))
        else:
            exprs.append(sql_literal(value, types[column]))
    insert = "INSERT INTO %s (%s) VALUES (%s)" % (quote_table(table), ", ".join(cols), ", ".join(exprs))  # noqa: S608
    old = values[columns.index(pk)] if pk in columns else None
    if pk and old is not None:
        keep = "INSERT INTO pg_temp.reconcile_ids SELECT %s, %s, ins.\"%s\"::text FROM ins" % (  # noqa: S608
            literal(table), literal(old), pk)  # fmt: skip
        return 'WITH ins AS (%s RETURNING "%s") %s;\n' % (insert, pk, keep)
    return insert + ";\n"


def reconcile(compose, kept, database, tables, dest):
    """Compare each table of `kept` with `database`; write the missing rows to `dest/<table>.csv`, and
    `dest/reconcile.sql`, which inserts them into `database` without collision.

    Returns {table: {kept_rows, missing_rows, file, note}}.
    """
    check_db_name(kept)
    check_db_name(database)
    os.makedirs(dest, mode=0o750, exist_ok=True)
    report = {}
    tables = check_tables(list(tables))
    shapes = {t: table_shape(compose, database, t) for t in tables}
    tables = parents_first(tables, {t: shape[2] for t, shape in shapes.items()})
    remapped = set()
    script_path = os.path.join(dest, "reconcile.sql")
    script = os.fdopen(os.open(script_path + ".partial", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640), "w",
                       encoding="utf-8", errors="surrogateescape")  # fmt: skip
    script.write("-- The rows written after the backup that the restore of %s left in %s, to load back into the\n"
                 "-- restored database: psql -v ON_ERROR_STOP=1 -d %s -f reconcile.sql (all or nothing).\n"
                 "-- Generated keys are handed out anew; foreign keys follow them. Written by runbook.rollback.\n"
                 "SET standard_conforming_strings = on;\nBEGIN;\n"
                 "CREATE TEMP TABLE reconcile_ids (tbl text, old_id text, new_id text) ON COMMIT DROP;\n"
                 % (database, kept, database))  # fmt: skip
    for table in tables:
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
        types, pk, fks = shapes[table]
        loadable = restored_cols and all(c in types for c in shared)
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
                values = [decode_field(f) for f in row]
                out.write(csv_line(values))
                if loadable:
                    script.write(insert_sql(table, shared, values[: len(shared)], types, pk, fks, remapped))
                missing += 1
        if missing and pk:
            remapped.add(table)
        if missing and not loadable:
            note = (note + "; " if note else "") + "not in reconcile.sql: the restored database has no such table"
        if missing:
            os.replace(partial, path)
        else:
            os.unlink(partial)
            path = None
        report[table] = {"kept_rows": kept_count, "missing_rows": missing, "file": path, "note": note}
    script.write("COMMIT;\n")
    script.close()
    if any(r["missing_rows"] for r in report.values()):
        os.replace(script_path + ".partial", script_path)
    else:
        os.unlink(script_path + ".partial")
    return report


def summary_line(report):
    return ", ".join("%s %d" % (t, r["missing_rows"]) for t, r in report.items())
