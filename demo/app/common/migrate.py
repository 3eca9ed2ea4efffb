"""SQL migrations from /app/migrations, applied in name order under a PostgreSQL advisory lock.

    python3 -m common.migrate status   # exit 0 when nothing is pending, 1 otherwise
    python3 -m common.migrate up       # apply what is pending
"""

import argparse
import pathlib
import sys

from common import db, log

MIGRATIONS_DIR = pathlib.Path(__file__).resolve().parent.parent / "migrations"
# Any constant works; it only has to be the same in every service so their startups serialise.
LOCK_KEY = 0x5AA5C4A7

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def available():
    return sorted(p for p in MIGRATIONS_DIR.glob("*.sql") if p.stem[:4].isdigit())


def applied(conn):
    with conn.cursor() as cur:
        cur.execute(CREATE_TABLE)
        cur.execute("SELECT version, applied_at FROM schema_migrations ORDER BY version")
        rows = cur.fetchall()
    conn.commit()
    return dict(rows)


def up(conn=None):
    """Apply pending migrations; returns the names applied. Safe when several services start at once."""
    own = conn is None
    conn = conn or db.connect()
    done = []
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        conn.commit()
        try:
            # Read the applied set only once the lock is held: another service may just have finished.
            have = applied(conn)
            for path in available():
                if path.stem in have:
                    continue
                with conn.cursor() as cur:
                    cur.execute(path.read_text())
                    cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (path.stem,))
                conn.commit()
                log.info("applied migration", version=path.stem)
                done.append(path.stem)
        except Exception:
            conn.rollback()
            raise
        finally:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
            conn.commit()
    finally:
        if own:
            conn.close()
    return done


def status(out=sys.stdout):
    conn = db.connect()
    try:
        have = applied(conn)
    finally:
        conn.close()
    known = {p.stem for p in available()}
    pending = [p.stem for p in available() if p.stem not in have]
    for version, applied_at in have.items():
        note = "" if version in known else "  (not shipped in this release)"
        print(f"applied  {version}  {applied_at.isoformat()}{note}", file=out)
    for version in pending:
        print(f"pending  {version}", file=out)
    print(f"{len(have)} applied, {len(pending)} pending", file=out)
    return 1 if pending else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m common.migrate", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["status", "up"])
    args = parser.parse_args(argv)
    log.setup("migrate")
    try:
        if args.command == "status":
            return status()
        names = up()
        print(f"applied {len(names)} migration(s)" + (": " + ", ".join(names) if names else ""))
        return 0
    except Exception as exc:
        # A CLI: one clear line rather than a traceback that may show connection details.
        print(f"migrate: {args.command} failed: {exc.__class__.__name__}: {str(exc).strip()[:300]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
