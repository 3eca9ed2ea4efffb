"""PostgreSQL access: a small thread-safe pool that drops connections broken by a DB restart."""

import contextlib
import threading
import time

import psycopg2
import psycopg2.extras

from common import config, log, metrics

_pool = []
_pool_lock = threading.Lock()
POOL_MAX = 8


def dsn_kwargs(host=None, port=None):
    # The password only ever travels in these kwargs; it is never formatted into a string or logged.
    return {
        "host": host or config.get("DB_HOST", "postgres"),
        "port": port or config.get_int("DB_PORT", 5432),
        "dbname": config.get("DB_NAME", "saas_db"),
        "user": config.get("DB_USER", "saas"),
        "password": config.get("DB_PASSWORD", ""),
        "connect_timeout": config.get_int("DB_CONNECT_TIMEOUT", 2),
        "application_name": log.service(),
    }


def connect(**overrides):
    return psycopg2.connect(**dsn_kwargs(**overrides))


def wait_until_up(limit_seconds=None):
    """Block until the DB accepts connections; give up after a bounded time so the container restarts."""
    limit = limit_seconds if limit_seconds is not None else config.get_int("DB_WAIT_SECONDS", 60)
    deadline = time.monotonic() + limit
    attempt = 0
    while True:
        attempt += 1
        try:
            conn = connect()
            conn.close()
            return
        except psycopg2.OperationalError as exc:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"database not reachable after {limit}s: {exc.__class__.__name__}") from exc
            if attempt == 1 or attempt % 10 == 0:
                log.info("waiting for the database", attempt=attempt)
            time.sleep(1)


def _take():
    with _pool_lock:
        while _pool:
            conn = _pool.pop()
            if not conn.closed:
                return conn
    return connect()


def _give_back(conn, broken):
    if broken or conn.closed:
        with contextlib.suppress(Exception):
            conn.close()
        return
    with _pool_lock:
        if len(_pool) < POOL_MAX:
            _pool.append(conn)
            return
    conn.close()


def dict_cursor(conn):
    return conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)


@contextlib.contextmanager
def cursor(timed=True):
    """A dict cursor inside one transaction: committed on success, rolled back on error. A timed one counts in
    /metrics (the health checks' are not: they would dilute the figure users feel)."""
    started = time.monotonic()
    conn = _take()
    broken = False
    try:
        with dict_cursor(conn) as cur:
            yield cur
        conn.commit()
        if timed:
            metrics.inc("mysaas_db_transactions_total")
            metrics.inc("mysaas_db_transaction_seconds_total", time.monotonic() - started)
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        broken = True
        raise
    except Exception:
        with contextlib.suppress(Exception):
            conn.rollback()
        raise
    finally:
        _give_back(conn, broken)


def ping():
    """None when the DB answers, else a short reason (no connection details)."""
    try:
        with cursor(timed=False) as cur:
            cur.execute("SELECT 1")
        return None
    except psycopg2.Error as exc:
        return f"database unavailable ({exc.__class__.__name__})"
