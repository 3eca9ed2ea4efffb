"""The staging services' health probe (demo/app/common/probe.sh), run by bash against a real HTTP server.

What the engine sees: a service that starts is reported healthy by one quick probe; once healthy, a probe
stays and checks every second, but returns at the first failure, and a failure is never held back.
"""

from __future__ import annotations

import http.server
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

PROBE = Path(__file__).resolve().parents[2] / "demo" / "app" / "common" / "probe.sh"


class Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    handler = type("Handler", (Health,), {"status": 200})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, handler
    httpd.shutdown()
    httpd.server_close()


def probe(tmp_path, *args, hold=3, fresh=0) -> tuple[int, str, float]:
    env = dict(os.environ, PROBE_HOLD=str(hold), PROBE_MARK_DIR=str(tmp_path), PROBE_FRESH=str(fresh))
    started = time.monotonic()
    proc = subprocess.run(["bash", str(PROBE), *args], capture_output=True, text=True, env=env, timeout=30, check=False)
    return proc.returncode, proc.stdout.strip(), time.monotonic() - started


def marks(tmp_path) -> list[str]:
    return [p.name for p in tmp_path.glob(".probe-healthy-*")]


def test_first_good_check_answers_at_once_and_marks_the_service_healthy(server, tmp_path):
    httpd, _unused = server
    rc, out, took = probe(tmp_path, "http", str(httpd.server_port), "/health")
    assert (rc, out) == (0, "")
    assert took < 2
    assert len(marks(tmp_path)) == 1


def test_once_healthy_the_probe_holds_and_checks_until_its_hold_ends(server, tmp_path):
    httpd, _unused = server
    assert probe(tmp_path, "http", str(httpd.server_port), "/health")[0] == 0
    rc, _unused, took = probe(tmp_path, "http", str(httpd.server_port), "/health", hold=3)
    assert rc == 0
    assert took >= 3
    assert len(marks(tmp_path)) == 1


def test_a_young_mark_gets_a_single_check_so_that_the_engine_sees_healthy_at_its_next_probe(server, tmp_path):
    # A rollback ran the container's healthcheck itself as soon as it started: the engine's first probe, a second
    # later, must not hold for 20 s before it reports healthy.
    httpd, _unused = server
    assert probe(tmp_path, "http", str(httpd.server_port), "/health", fresh=5)[0] == 0
    rc, _unused, took = probe(tmp_path, "http", str(httpd.server_port), "/health", hold=20, fresh=5)
    assert rc == 0 and took < 2
    # Once the mark is older than that, the hold is back.
    rc, _unused, took = probe(tmp_path, "http", str(httpd.server_port), "/health", hold=2, fresh=0)
    assert rc == 0 and took >= 2


def test_slow_checks_do_not_stretch_the_hold_past_the_healthcheck_timeout(tmp_path):
    # A loaded machine: each check takes most of a second. Counted in checks, a 3 s hold would last
    # 3 x 1.8 s; on the clock it ends after the check that passes 3 s.
    assert probe(tmp_path, "cmd", "sleep", "0.8")[0] == 0
    rc, _unused, took = probe(tmp_path, "cmd", "sleep", "0.8", hold=3)
    assert rc == 0
    assert 3 <= took < 4.8


def test_a_failure_while_held_is_reported_at_once_and_ends_the_hold(server, tmp_path):
    httpd, handler = server
    assert probe(tmp_path, "http", str(httpd.server_port), "/health")[0] == 0
    timer = threading.Timer(1.5, lambda: setattr(handler, "status", 503))
    timer.start()
    rc, out, took = probe(tmp_path, "http", str(httpd.server_port), "/health", hold=20)
    timer.join()
    assert (rc, out) == (1, "GET /health: 503")
    assert took < 5
    # The next probe is a single check again: a recovery is seen at its first good answer.
    assert marks(tmp_path) == []
    handler.status = 200
    rc, _unused, took = probe(tmp_path, "http", str(httpd.server_port), "/health", hold=20)
    assert rc == 0 and took < 2


def test_nothing_listening_fails_with_the_reason(tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    port = httpd.server_port
    httpd.server_close()
    rc, out, _unused = probe(tmp_path, "http", str(port), "/health")
    assert (rc, out) == (1, f"port {port}: connection refused")
    assert marks(tmp_path) == []


def test_a_command_check_passes_and_fails_by_its_exit_code(tmp_path):
    assert probe(tmp_path, "cmd", "true")[:2] == (0, "")
    rc, out, _unused = probe(tmp_path / "other", "cmd", "false")
    assert (rc, out) == (1, "false: exit 1")


def test_a_mark_from_an_earlier_start_of_the_main_process_is_not_taken_for_this_one(server, tmp_path):
    httpd, _unused = server
    (tmp_path / ".probe-healthy-1").touch()  # a main process that started at tick 1 is not this one
    rc, _unused, took = probe(tmp_path, "http", str(httpd.server_port), "/health", hold=20)
    assert rc == 0 and took < 2
