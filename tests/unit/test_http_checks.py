"""smoke_check and health_check against a real HTTP server on 127.0.0.1 (no mocking of urllib)."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.health import check_all, evaluate, validate_endpoints
from ansible_collections.runbook.rollback.plugins.module_utils.health import summary as health_summary
from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import request
from ansible_collections.runbook.rollback.plugins.module_utils.smoke import (
    SmokeError,
    run_steps,
    validate_steps,
)
from ansible_collections.runbook.rollback.plugins.module_utils.smoke import (
    summary as smoke_summary,
)


class FakeApp(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.reset()

    def reset(self):
        self.users = {}
        self.tokens = {}
        self.chats = {}
        self.failing = set()  # paths answering 500
        self.declined = False
        self.version = "v1.2.3"
        self.versions = {}  # per health endpoint override
        self.broken = set()  # health endpoints answering 502
        self.hits = {}
        self.heal_after = {}  # health endpoint -> number of 503s before it is ok
        self.seen_auth = []

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, raw=False):
        data = body.encode() if raw else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if raw else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        app = self.server
        name = self.path.rsplit("/", 1)[-1]
        app.hits[name] = app.hits.get(name, 0) + 1
        if name == "text":
            return self.reply(200, "OK", raw=True)
        if name == "slow":
            time.sleep(1.5)
            return self.reply(200, {"version": app.version})
        if name in app.broken:
            return self.reply(502, {"error": "bad gateway"})
        if app.hits[name] <= app.heal_after.get(name, 0):
            return self.reply(503, {"error": "starting"})
        if name == "noversion":
            return self.reply(200, {"status": "ok"})
        return self.reply(200, {"status": "ok", "version": app.versions.get(name, app.version)})

    def do_POST(self):
        app = self.server
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        auth = self.headers.get("Authorization", "")
        user = app.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        app.seen_auth.append(auth)
        if self.path in app.failing:
            return self.reply(500, {"error": "boom"})
        if self.path == "/api/auth/register":
            if body["email"] in app.users:
                return self.reply(409, {"error": "taken"})
            app.users[body["email"]] = body["password"]
            return self.reply(201, {"id": len(app.users), "email": body["email"]})
        if self.path == "/api/auth/login":
            if app.users.get(body.get("email")) != body.get("password"):
                return self.reply(401, {"error": "bad credentials"})
            token = "tok-%d" % len(app.tokens)
            app.tokens[token] = body["email"]
            return self.reply(200, {"token": token})
        if not user:
            return self.reply(401, {"error": "no auth"})
        if self.path == "/api/chats":
            chat_id = "c%d" % (len(app.chats) + 1)
            app.chats[chat_id] = []
            return self.reply(201, {"id": chat_id, "title": body["title"]})
        if self.path.startswith("/api/chats/") and self.path.endswith("/messages"):
            chat_id = self.path.split("/")[3]
            if chat_id not in app.chats:
                return self.reply(404, {"error": "no chat"})
            app.chats[chat_id].append(body["body"])
            return self.reply(201, {"id": 1})
        if self.path == "/api/billing/checkout":
            return self.reply(201, {"status": "declined" if app.declined else "paid", "plan": body["plan"]})
        return self.reply(404, {"error": "not found"})


@pytest.fixture(scope="module")
def server():
    app = FakeApp()
    thread = threading.Thread(target=app.serve_forever, daemon=True)
    thread.start()
    yield app
    app.shutdown()
    app.server_close()


@pytest.fixture
def app(server):
    server.reset()
    return server


@pytest.fixture
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- smoke ---------------------------------------------------------------------------------------

# The fake app's journeys as a team would write them in its inventory.
STEPS = [
    {"name": "register", "path": "/api/auth/register", "json": {"email": "${email}", "password": "${password}"},
     "status": 201, "capture": {"user_id": "id"}, "new_account": True},
    {"name": "login", "path": "/api/auth/login", "json": {"email": "${email}", "password": "${password}"},
     "status": 200, "capture": {"token": "token"}},
    {"name": "create_chat", "path": "/api/chats", "headers": {"Authorization": "Bearer ${token}"},
     "json": {"title": "smoke ${run}"}, "status": 201, "capture": {"chat_id": "id"}},
    {"name": "send_message", "path": "/api/chats/${chat_id}/messages", "headers": {"Authorization": "Bearer ${token}"},
     "json": {"body": "smoke check"}, "status": 201},
    {"name": "billing_checkout", "path": "/api/billing/checkout", "headers": {"Authorization": "Bearer ${token}"},
     "json": {"plan": "pro"}, "status": [200, 201], "expect": {"status": "paid"}},
]  # fmt: skip


def test_all_flows_pass(app):
    result = run_steps(app.url + "/", STEPS)
    assert result["passed"] is True
    assert result["summary"] == "5/5 smoke flows passed"
    assert [f["name"] for f in result["flows"]] == [s["name"] for s in STEPS]
    assert [f["status"] for f in result["flows"]] == [201, 200, 201, 201, 201]
    assert all(f["ok"] and f["error"] is None and isinstance(f["ms"], int) for f in result["flows"])
    assert list(app.chats.values()) == [["smoke check"]]
    assert "Bearer tok-0" in app.seen_auth


def test_unique_email_per_run(app):
    first = run_steps(app.url, STEPS, only=["register"])
    second = run_steps(app.url, STEPS, only=["register"])
    assert first["passed"] and second["passed"] and first["email"] != second["email"]
    assert first["email"].endswith("@example.test")


def test_a_step_without_what_it_needs_is_skipped_with_the_reason(app):
    app.failing.add("/api/chats")
    result = run_steps(app.url, STEPS)
    assert result["passed"] is False
    assert result["summary"] == ("3/5 smoke flows passed; failed: create_chat (HTTP 500), "
                                 "send_message (skipped: no chat_id)")  # fmt: skip
    assert result["flows"][3] == {"name": "send_message", "ok": False, "status": None, "ms": 0,
                                  "error": "skipped: no chat_id"}  # fmt: skip


def test_register_failure_cascades(app):
    app.failing.add("/api/auth/register")
    result = run_steps(app.url, STEPS)
    assert result["summary"] == (
        "0/5 smoke flows passed; failed: register (HTTP 500), login (HTTP 401), create_chat (skipped: no token), "
        "send_message (skipped: no chat_id, token), billing_checkout (skipped: no token)")


def test_an_expected_value_that_differs_fails_the_step(app):
    app.declined = True
    result = run_steps(app.url, STEPS)
    assert result["flows"][-1]["error"] == "status is 'declined', expected 'paid'"
    assert result["flows"][-1]["status"] == 201


def test_status_defaults_to_any_2xx_and_a_missing_key_is_named(app):
    steps = [{"name": "health", "path": "/api/noversion"}, {"name": "needs", "path": "/api/x", "expect": {"a.b": 1}}]
    result = run_steps(app.url, steps)
    assert result["flows"][0]["ok"] and result["flows"][1]["error"] == "answer has no a.b"
    text = run_steps(app.url, [{"name": "t", "path": "/text", "expect": {"x": 1}}])
    assert text["flows"][0]["error"] == "answer is not JSON"


def test_variables_are_percent_encoded_in_paths_and_keep_their_type_in_json(app):
    seen = []

    def call(method, url, payload=None, headers=None, timeout=5):
        seen.append((method, url, payload, headers))
        return {"status": 200, "json": {"id": 7, "slug": "a/b c"}, "is_json": True, "error": None, "ms": 1}

    steps = [{"name": "make", "path": "/things", "json": {}, "capture": {"id": "id", "slug": "slug"}},
             {"name": "use", "method": "put", "path": "/things/${slug}", "json": {"id": "${id}", "label": "n${id}"}}]
    assert run_steps("http://127.0.0.1:1", steps, call=call)["passed"]
    assert seen[1] == ("PUT", "http://127.0.0.1:1/things/a%2Fb%20c", {"id": 7, "label": "n7"}, None)


def test_fixed_password_works_across_runs(app):
    # A fresh user per run, so a configured password never collides with an earlier run's user.
    for _unused in range(2):
        assert run_steps(app.url, STEPS, only=["register", "login"], password="pw")["passed"] is True


def test_existing_account_logs_in_without_registering(app):
    app.users["known@example.test"] = "known-pw"
    result = run_steps(app.url, STEPS, only=["register", "login", "create_chat"], email="known@example.test",
                       password="known-pw")  # fmt: skip
    assert result["passed"] is True and result["email"] == "known@example.test"
    assert [f["name"] for f in result["flows"]] == ["login", "create_chat"]
    assert list(app.users) == ["known@example.test"]


def test_existing_account_with_a_wrong_password_fails_login(app):
    app.users["known@example.test"] = "known-pw"
    result = run_steps(app.url, STEPS, only=["login"], email="known@example.test", password="wrong")
    assert result["passed"] is False and result["summary"] == "0/1 smoke flows passed; failed: login (HTTP 401)"


@pytest.mark.parametrize(
    ("only", "password", "error"),
    [
        (["register"], "pw", "no smoke step left to run"),
        (["login"], None, "an existing account (email) needs its password"),
        (["logout"], "pw", "no smoke step named logout"),
    ],
)
def test_existing_account_refuses(app, only, password, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        run_steps(app.url, STEPS, only=only, email="known@example.test", password=password)


def test_server_down(closed_port):
    result = run_steps("http://127.0.0.1:%d" % closed_port, STEPS, only=["register", "login"], timeout=2)
    assert result["flows"][0]["error"] == "connection refused"
    assert result["flows"][0]["status"] is None
    assert result["summary"] == ("0/2 smoke flows passed; failed: register (connection refused), "
                                 "login (connection refused)")  # fmt: skip


@pytest.mark.parametrize(
    "steps, error",
    [
        ([], "smoke steps must be a non-empty list"),
        (["login"], "smoke step 1 is not a mapping"),
        ([{"name": "a b", "path": "/"}], "name must be letters"),
        ([{"name": "a", "path": "/"}, {"name": "a", "path": "/"}], "smoke step a is named twice"),
        ([{"name": "a", "path": "/", "body": "x"}], "step a: unknown key(s) body"),
        ([{"name": "a", "path": "/", "url": "http://x/"}], "step a: give either path or url"),
        ([{"name": "a", "path": "api"}], "step a: path must start with /"),
        ([{"name": "a", "path": "/", "method": "FETCH"}], "step a: method FETCH is not one of"),
        ([{"name": "a", "path": "/", "status": "ok"}], "step a: status must be an HTTP status"),
        ([{"name": "a", "path": "/", "capture": {"email": "x"}}], "step a: cannot capture into 'email'"),
        ([{"name": "a", "path": "/x/${token}"}], "step a uses ${token}, which no step before it captures"),
        ([{"name": "a", "path": "/", "headers": ["x"]}], "step a: headers must be a mapping"),
    ],
)
def test_bad_steps_are_refused_in_one_line(steps, error):
    with pytest.raises(SmokeError) as exc:
        validate_steps(steps)
    assert error in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("base_url", ["ftp://x", "127.0.0.1:8080", ""])
def test_smoke_rejects_bad_url(base_url):
    with pytest.raises(ValueError, match="invalid URL"):
        run_steps(base_url, STEPS)


def test_smoke_summary_all_ok():
    assert smoke_summary([{"name": "a", "ok": True, "error": None}]) == "1/1 smoke flows passed"


@pytest.mark.functional
def test_smoke_module(app, ansible_module):
    res = ansible_module("smoke_check", {"base_url": app.url, "steps": STEPS, "password": "s3cret-smoke"})
    assert res["passed"] is True and res["changed"] is False
    assert res["summary"] == "5/5 smoke flows passed"
    assert "s3cret-smoke" not in json.dumps(res)
    app.failing.add("/api/billing/checkout")
    res = ansible_module("smoke_check", {"base_url": app.url, "steps": STEPS})
    assert res["failed"] is True
    assert res["msg"] == "4/5 smoke flows passed; failed: billing_checkout (HTTP 500)"
    res = ansible_module("smoke_check", {"base_url": app.url, "steps": STEPS, "fail_on_error": False})
    assert res.get("failed") is not True and res["passed"] is False
    before = len(app.users)
    res = ansible_module("smoke_check", {"base_url": app.url, "steps": STEPS}, check=True)
    assert res["skipped"] is True and len(app.users) == before
    res = ansible_module("smoke_check", {"base_url": app.url})
    assert res["failed"] is True and res["msg"] == "no smoke steps and no command: give steps, a command, or both"


@pytest.mark.functional
def test_the_teams_smoke_command_runs_after_the_steps(app, ansible_module, tmp_path):
    script = tmp_path / "smoke.sh"
    script.write_text('#!/bin/sh\necho "checked $SMOKE_BASE_URL from $(pwd)"\nexit "${1:-0}"\n')
    script.chmod(0o755)
    args = {"base_url": app.url, "steps": STEPS[:2], "command": ["./smoke.sh"], "command_chdir": str(tmp_path)}
    res = ansible_module("smoke_check", args)
    assert res["passed"] is True and res["summary"] == "3/3 smoke flows passed", res
    assert res["command"]["rc"] == 0 and res["command"]["output"] == "checked %s from %s\n" % (app.url, tmp_path)
    res = ansible_module("smoke_check", dict(args, command=["./smoke.sh", "3"], steps=[]))
    assert res["failed"] is True and res["msg"] == "0/1 smoke flows passed; failed: command (exit 3)"
    res = ansible_module("smoke_check", dict(args, command=["./missing.sh"], steps=[], fail_on_error=False))
    assert res["passed"] is False and res["flows"][0]["error"].startswith("cannot run ./missing.sh")
    res = ansible_module("smoke_check", dict(args, command=["sleep", "5"], steps=[], command_timeout=0.5,
                                             fail_on_error=False))  # fmt: skip
    assert res["flows"][0]["error"] == "killed after 0.5 s" and res["command"]["rc"] is None


# -- health --------------------------------------------------------------------------------------

def resp(status=200, body=None, error=None):
    text = json.dumps(body) if body is not None else ""
    return {"status": status, "json": body, "is_json": body is not None, "body": text, "error": error, "ms": 1}


@pytest.mark.parametrize(
    "response, expect, ok, version, error",
    [
        (resp(200, {"version": "v1.2.3"}), "v1.2.3", True, "v1.2.3", None),
        (resp(200, {"version": "v1.2.3"}), None, True, "v1.2.3", None),
        (resp(200, {"status": "ok"}), None, True, None, None),
        (resp(200, ["any", "json"]), None, True, None, None),
        (resp(200, {"version": "v1.2.4"}), "v1.2.3", False, "v1.2.4", "version v1.2.4, expected v1.2.3"),
        # No version where none was asked for (the default key): healthy, the release unchecked (summary).
        (resp(200, {"status": "ok"}), "v1.2.3", True, None, None),
        (resp(200, None), None, True, None, None),
        (resp(200, None), "v1.2.3", True, None, None),
        (resp(502, {"error": "x"}), None, False, None, "HTTP 502"),
        (resp(204, None), None, True, None, None),
        (resp(301, None), None, False, None, "HTTP 301"),
        (resp(None, None, "connection refused"), None, False, None, "connection refused"),
        (resp(200, {"version": 3}), "3", True, "3", None),
    ],
)
def test_evaluate(response, expect, ok, version, error):
    got = evaluate("svc", "http://x/health", response, expect)
    assert (got["ok"], got["version"], got["error"]) == (ok, version, error)
    assert got["status"] == response["status"]


@pytest.mark.parametrize(
    "response, key, header, version",
    [
        (resp(200, {"build": {"version": "v2"}}), "build.version", None, "v2"),
        (resp(200, {"build": "v2"}), "build.version", None, None),
        (dict(resp(200, None), headers={"x-app-version": " v3 "}), "version", "X-App-Version", "v3"),
        (dict(resp(200, {"version": "v1"}), headers={}), "version", "X-App-Version", None),
    ],
)
def test_the_version_comes_from_a_key_or_a_header(response, key, header, version):
    got = evaluate("svc", "http://x/health", response, "v9", key, header)
    assert got["version"] == version
    assert not got["ok"]
    if version is None:
        where = "header X-App-Version" if header else "key build.version"
        assert got["error"] == "no version in response (%s), expected v9" % where


def test_health_summary():
    results = [{"name": "api", "ok": True, "error": None}, {"name": "chat", "ok": False, "error": "HTTP 502"},
               {"name": "billing", "ok": False, "error": "version v1.2.4, expected v1.2.3"}]
    assert health_summary(results) == ("1/3 health endpoints ok; chat: HTTP 502; "
                                       "billing: version v1.2.4, expected v1.2.3")


def endpoints(app, *names):
    return [{"name": n, "url": "%s/health/%s" % (app.url, n)} for n in names]


def test_health_all_ok(app):
    result = check_all(endpoints(app, "api", "chat", "billing"), "v1.2.3")
    assert result["healthy"] is True
    assert result["summary"] == "3/3 health endpoints ok"
    assert [e["version"] for e in result["endpoints"]] == ["v1.2.3"] * 3


def test_health_failures_in_order(app):
    app.broken.add("chat")
    app.versions["billing"] = "v1.2.4"
    result = check_all(endpoints(app, "api", "chat", "billing", "text", "noversion"), "v1.2.3")
    assert result["healthy"] is False
    assert result["summary"] == ("3/5 health endpoints ok; chat: HTTP 502; billing: version v1.2.4, expected v1.2.3; "
                                 "release not checked (no version reported): text, noversion")


def test_health_wait_reprobes_only_failing(app):
    app.heal_after["chat"] = 2
    result = check_all(endpoints(app, "api", "chat"), "v1.2.3", wait=5, interval=0.05)
    assert result["healthy"] is True
    assert result["attempts"] == 3
    assert app.hits == {"api": 1, "chat": 3}


def test_health_wait_gives_up(app):
    app.broken.add("chat")
    started = time.monotonic()
    result = check_all(endpoints(app, "chat"), wait=0.5, interval=0.1)
    assert result["healthy"] is False and result["attempts"] >= 3
    assert time.monotonic() - started < 3


def test_health_timeout_and_refused(app, closed_port):
    eps = endpoints(app, "slow") + [{"name": "down", "url": "http://127.0.0.1:%d/health" % closed_port}]
    result = check_all(eps, timeout=0.3)
    assert [e["error"] for e in result["endpoints"]] == ["timed out after 0.3s", "connection refused"]
    assert [e["status"] for e in result["endpoints"]] == [None, None]


def test_request_reads_error_bodies(app):
    app.broken.add("x")
    got = request("GET", app.url + "/health/x")
    assert got["status"] == 502 and got["json"] == {"error": "bad gateway"}


@pytest.mark.parametrize(
    "eps, error",
    [
        ([], "non-empty list"),
        ([{"name": "a"}], "endpoints[0] needs both name and url"),
        ([{"name": "a", "url": "http://x"}, {"name": "a", "url": "http://y"}], "listed twice"),
        ([{"name": "a", "url": "file:///etc/passwd"}], "endpoint a: invalid URL"),
    ],
)
def test_validate_endpoints(eps, error):
    with pytest.raises(ValueError) as exc:
        validate_endpoints(eps)
    assert error in str(exc.value)


@pytest.mark.functional
def test_health_module(app, ansible_module):
    app.broken.add("chat")
    args = {"endpoints": endpoints(app, "api", "chat"), "expect_version": "v1.2.3"}
    res = ansible_module("health_check", args, check=True)
    assert res["failed"] is True and res["msg"] == "1/2 health endpoints ok; chat: HTTP 502"
    assert res["healthy"] is False and res["endpoints"][1]["status"] == 502
    res = ansible_module("health_check", dict(args, fail_on_error=False))
    assert res.get("failed") is not True and res["changed"] is False and res["healthy"] is False
    app.broken.clear()
    res = ansible_module("health_check", args)
    assert res["healthy"] is True and res["summary"] == "2/2 health endpoints ok"


@pytest.fixture(scope="module")
def https_health(tmp_path_factory):
    """An HTTPS /health on 127.0.0.1 whose certificate no system CA signed; yields (url, its CA file)."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "runbook test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"status": "ok", "version": "v1.2.3"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/health", str(cert_file)
    finally:
        server.shutdown()
        server.server_close()


def test_https_checks_trust_the_ca_they_are_given_and_refuse_an_unknown_one(https_health):
    url, ca_file = https_health
    refused = request("GET", url, timeout=5)
    assert refused["status"] is None and "certificate" in refused["error"].lower(), refused
    trusted = request("GET", url, timeout=5, tls={"ca_path": ca_file})
    assert (trusted["status"], trusted["json"]["version"], trusted["error"]) == (200, "v1.2.3", None)
    unchecked = request("GET", url, timeout=5, tls={"validate_certs": False})
    assert unchecked["status"] == 200


def test_a_failed_step_reports_its_user_flow_broken_and_a_skipped_one_nothing():
    answers = {"/login": 500, "/signup": 201, "/chats": 201, "/pay": 201}

    def call(method, url, payload=None, headers=None, timeout=5):
        status = answers[url.split("127.0.0.1:1", 1)[1].split("?")[0]]
        body = {"token": "t"} if status < 300 else {}
        return {"status": status, "json": body, "is_json": True, "error": None, "ms": 1}

    steps = [{"name": "signup", "path": "/signup", "json": {}, "signal": "signup_broken"},
             {"name": "login", "path": "/login", "json": {}, "capture": {"token": "token"}, "signal": "login_broken"},
             {"name": "chat", "path": "/chats", "headers": {"A": "${token}"}, "signal": "chat_broken"},
             {"name": "pay", "path": "/pay", "json": {}}]  # fmt: skip
    result = run_steps("http://127.0.0.1:1", steps, call=call)
    # login failed; chat was skipped for want of its token (its own flow unknown); pay has no signal.
    assert result["signals"] == ["login_broken"]
    assert [f["ok"] for f in result["flows"]] == [True, False, False, True]
    answers["/login"] = 200
    assert run_steps("http://127.0.0.1:1", steps, call=call)["signals"] == []
    with pytest.raises(ValueError, match="signal must be one of"):
        run_steps("http://127.0.0.1:1", [{"name": "x", "path": "/x", "signal": "security_breach"}], call=call)
