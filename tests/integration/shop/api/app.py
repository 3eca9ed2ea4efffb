"""The shop's API: orders in a mixed-case table, a plain `ok` health answer, migrations at startup."""

import glob
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

RELEASE = "dev"
# A broken release fails every new order.
BROKEN = False


def connect():
    return psycopg2.connect(host="db", dbname="shop", user="shop", connect_timeout=2)


def migrate():
    for _attempt in range(60):
        try:
            conn = connect()
            break
        except psycopg2.OperationalError:
            time.sleep(1)
    else:
        raise SystemExit("no database")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY)")
        for path in sorted(glob.glob("/app/migrations/*.sql")):
            name = os.path.basename(path)
            cur.execute("SELECT 1 FROM schema_migrations WHERE name = %s", (name,))
            if cur.fetchone() is None:
                with open(path, encoding="utf-8") as fh:
                    cur.execute(fh.read())
                cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
    conn.close()


def query(sql, args=()):
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()
    finally:
        conn.close()


class Handler(BaseHTTPRequestHandler):
    def send(self, code, body, kind="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            self.send(200, b"ok", "text/plain")
        elif self.path == "/code":
            self.send(200, RELEASE.encode(), "text/plain")
        elif self.path == "/orders":
            self.send(200, {"count": query('SELECT count(*) FROM "Order"')[0]})
        else:
            self.send(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/orders":
            self.send(404, {"error": "not found"})
        elif BROKEN:
            self.send(500, {"error": "orders are broken in " + RELEASE})
        else:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            order = query('INSERT INTO "Order" (item) VALUES (%s) RETURNING id', (str(body.get("item")),))[0]
            self.send(201, {"id": order})

    def log_message(self, *args):
        pass


# PID 1 of its container: without a handler SIGTERM would be ignored, and every stop would wait for SIGKILL.
signal.signal(signal.SIGTERM, lambda *_args: sys.exit(0))
migrate()
ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()  # noqa: S104 - inside its container
