"""The staging services' HTTP server (demo/app/common/web.py), run as its own process as a container runs it.

What a replacement side by side relies on: on its stop signal a service finishes the requests it has and exits,
and a connection that never sends a request cannot hold that stop; a caller that hangs up is a log line, not a
traceback the verification's log check would count.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

APP = Path(__file__).resolve().parents[2] / "demo" / "app"

SERVER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from common import web

class Handler(web.JsonHandler):
    service = "test"
    routes = (("GET", "/slow", "slow"),)

    def slow(self):
        time.sleep(1)
        return 200, {"payload": "x" * 200000}

web.serve(Handler, ports=(int(sys.argv[2]),))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def service():
    """Start the server; yields (process, port)."""
    started = []

    def start():
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-c", SERVER, str(APP), str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        started.append(proc)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc, port
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
                time.sleep(0.05)

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_a_silent_connection_does_not_hold_the_stop(service):
    proc, port = service()
    with socket.create_connection(("127.0.0.1", port)):
        time.sleep(0.3)  # accepted: a thread of the server waits for its request line
        proc.send_signal(signal.SIGTERM)
        # Without an idle timeout the stop would wait for this connection for as long as it stays open; the
        # server's own closes it well within a stop timeout (30 s by default).
        assert proc.wait(timeout=25) == 0
    assert "stopped" in proc.stdout.read()


def test_a_request_in_flight_is_answered_before_the_stop(service):
    proc, port = service()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"GET /slow HTTP/1.0\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 200") and len(answer) > 200000
    assert proc.wait(timeout=10) == 0


def test_a_stop_signal_taken_by_a_request_thread_still_stops_the_service(service):
    proc, port = service()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"GET /slow HTTP/1.0\r\nHost: x\r\n\r\n")
        time.sleep(0.3)  # the newest thread of the server answers it
        tasks = [int(t.name) for t in Path(f"/proc/{proc.pid}/task").iterdir()]
        assert len(tasks) >= 3, f"expected the main, the serving and a request thread: {tasks}"
        # kill(2) naming a thread's id gives the signal to that thread (it does not block it): where the main
        # thread waited without a timeout, it never ran the handler (Python runs them in the main thread only),
        # and the service ran on until the engine killed it.
        os.kill(max(tasks), signal.SIGTERM)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 200"), answer[:200]
    assert proc.wait(timeout=10) == 0
    assert "stopping" in proc.stdout.read()


def test_a_caller_that_hangs_up_is_one_line_not_a_traceback(service):
    proc, port = service()
    conn = socket.create_connection(("127.0.0.1", port))
    conn.sendall(b"GET /slow HTTP/1.0\r\nHost: x\r\n\r\n")
    # Gone before the answer, with a reset (as a client's timeout leaves it).
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    out = proc.stdout.read()
    assert "client went away" in out and "Traceback" not in out, out
    # Nor a line the verification's log check would count (verify_logs_pattern).
    pattern = yaml.safe_load((APP.parents[1] / "roles" / "verify" / "defaults" / "main.yml").read_text())[
        "verify_logs_pattern"]
    assert not [line for line in out.splitlines() if re.search(pattern, line)], out



def test_the_connections_queued_at_the_stop_are_answered_not_reset():
    sys.path.insert(0, str(APP))
    try:
        from common import web
    finally:
        sys.path.remove(str(APP))

    class Handler(web.JsonHandler):
        service = "test"

    server = web.Server(("127.0.0.1", 0), Handler)
    # The serving loop has stopped (the stop signal); the kernel still completed these connections, and their
    # requests were sent: they wait in the listening socket's backlog.
    conns = []
    for _ in range(20):
        conn = socket.create_connection(server.server_address)
        conn.sendall(b"GET /health HTTP/1.0\r\nHost: x\r\n\r\n")
        conns.append(conn)
    web.drain_and_close(server)
    answers = []
    for conn in conns:
        conn.settimeout(10)
        try:
            answers.append(conn.recv(64).split(b" ")[1])
        except OSError as exc:  # reset: the socket was closed with the connection still queued
            answers.append(type(exc).__name__.encode())
        conn.close()
    assert answers == [b"200"] * 20, answers
