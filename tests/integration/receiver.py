"""A local HTTP receiver standing in for Slack, Statuspage, PagerDuty and a JSON webhook: it records what
each channel was sent. Used by the notify tests and by the procedures' notification checks."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Unique values, so that finding one anywhere in the output can only mean a leak.
SLACK_TOKEN = "slacktok" + uuid.uuid4().hex
STATUSPAGE_KEY = "spkey" + uuid.uuid4().hex
ROUTING_KEY = "pdroute" + uuid.uuid4().hex
WEBHOOK_TOKEN = "hooktok" + uuid.uuid4().hex
SECRETS = (SLACK_TOKEN, STATUSPAGE_KEY, ROUTING_KEY, WEBHOOK_TOKEN)
# Secrets of this test process's stacks (their database passwords), checked by assert_no_secret too.
_MORE_SECRETS: list[str] = []


def remember_secret(secret: str) -> str:
    _MORE_SECRETS.append(secret)
    return secret


LEVELS = [
    {"level": 1, "name": "on-call engineer", "contacts": ["@oncall"], "channels": ["slack"]},
    {"level": 2, "name": "DevOps lead", "contacts": ["@devops-lead"], "channels": ["slack", "pagerduty", "webhook"]},
    {"level": 3, "name": "engineering manager", "contacts": ["@engineering-manager", "em@example.com"],
     "channels": ["slack", "statuspage", "pagerduty", "webhook"]},
    {"level": 4, "name": "CTO", "contacts": ["cto@example.com"], "channels": ["slack", "pagerduty", "webhook"]},
]  # fmt: skip


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request; `mode` is ok, error (500), hang, or
    hang-slack (only Slack's webhook never answers)."""

    def __init__(self, mode: str = "ok"):
        self.mode = mode
        self.requests: list[dict] = []
        self.release = threading.Event()
        self._incidents = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                receiver.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers), "json": body}
                )
                if receiver.mode == "hang" or (receiver.mode == "hang-slack" and self.path.startswith("/services/")):
                    receiver.release.wait(30)
                    return
                if receiver.mode == "error":
                    return self._answer(500, {"error": "boom"})
                if "/incidents" in self.path:
                    if self.command == "POST":
                        receiver._incidents += 1
                        return self._answer(201, {"id": "spinc%d" % receiver._incidents})
                    return self._answer(200, {"id": self.path.rsplit("/", 1)[-1]})
                if self.path.endswith("/enqueue"):
                    return self._answer(202, {"status": "success", "dedup_key": (body or {}).get("dedup_key")})
                if self.path.startswith("/services/"):
                    return self._answer(200, "ok")
                return self._answer(200, {})

            def _answer(self, status, payload):
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_PATCH = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def channel_vars(self) -> dict:
        return channel_vars(self.base)

    def take(self) -> list[dict]:
        taken, self.requests = self.requests, []
        return taken

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def channel_vars(base: str) -> dict:
    return {
        "rollback_notify_slack": {
            "webhook_url": f"{base}/services/T0/B0/{SLACK_TOKEN}", "channel": "#production-alerts",
        },
        "rollback_notify_statuspage": {
            "api_url": f"{base}/sp/v1", "page_id": "page1", "api_key": STATUSPAGE_KEY,
            "components": {"cmpapi": "API", "cmpweb": "Web app"},
        },
        "rollback_notify_pagerduty": {"events_url": f"{base}/v2/enqueue", "routing_key": ROUTING_KEY},
        "rollback_notify_webhook": {"url": f"{base}/hook", "headers": {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}},
        "rollback_escalation_levels": LEVELS,
    }  # fmt: skip


def by_channel(requests: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"slack": [], "statuspage": [], "pagerduty": [], "webhook": []}
    for req in requests:
        path = req["path"]
        key = (
            "slack" if path.startswith("/services/")
            else "statuspage" if path.startswith("/sp/")
            else "pagerduty" if path.endswith("/enqueue")
            else "webhook"
        )  # fmt: skip
        out[key].append(req)
    return out


# --- What a procedure's run told the team, as a user would check it ---------------------------------------


@contextmanager
def notifying(stack) -> Iterator[Receiver]:
    """Every channel on, pointing at a fresh receiver, for the runs inside the block; all off again after."""
    receiver = Receiver()
    try:
        stack.write_group_vars(**receiver.channel_vars())
        yield receiver
    finally:
        receiver.close()
        stack.write_group_vars(**{k: type(v)() for k, v in receiver.channel_vars().items()})


def split_progress(sent: dict) -> tuple[dict, dict]:
    """(the rest, the progress updates): each channel's messages apart, in the order they came."""

    def is_update(message: dict) -> bool:
        body = message.get("json") or {}
        text = body.get("text") or (body.get("incident") or {}).get("body") or ""
        return body.get("event") == "progress" or "STILL IN PROGRESS" in text or "still rolling back" in text

    rest = {channel: [m for m in got if not is_update(m)] for channel, got in sent.items()}
    updates = {channel: [m for m in got if is_update(m)] for channel, got in sent.items()}
    return rest, updates


def slack_texts(sent: dict) -> list[str]:
    return [m["json"]["text"] for m in sent["slack"]]


def slack_fields(message: dict) -> dict[str, str]:
    """A Slack message's fields, label -> value ("*Stack state*\nauth-service v1.2.3 healthy, ...")."""
    fields = [f["text"] for b in message["json"]["blocks"] if "fields" in b for f in b["fields"]]
    return dict(f.lstrip("*").split("*\n", 1) for f in fields)


def webhook_events(sent: dict) -> list[str]:
    return [h["json"]["event"] for h in sent["webhook"]]


def incident_of(sent: dict) -> str:
    """The incident every channel was told about (the webhook carries it; the dedup key is made of it)."""
    (incident,) = {h["json"]["incident"] for h in sent["webhook"]}
    return incident


def assert_started(sent: dict, project: str, procedure: str, to_version: str, from_version: str | None = None,
                   minutes: int = 10) -> None:  # fmt: skip
    """Slack: rollback in progress with the versions, the ETA from the procedure's budget and the lead; the
    status page: an incident created, components in partial outage; the webhook: procedure and versions."""
    started = slack_texts(sent)[0]
    versions = f"{from_version} → {to_version}" if from_version else to_version
    assert started.startswith(f"🚨 ROLLBACK IN PROGRESS on {project}: Procedure {procedure}, {versions}"), started
    assert f"UTC (~{minutes} min). Led by: " in started and "ETA: " in started, started
    assert slack_fields(sent["slack"][0])["Lead"]
    create = sent["statuspage"][0]
    assert (create["method"], create["path"]) == ("POST", "/sp/v1/pages/page1/incidents")
    assert create["json"]["incident"]["status"] == "identified"
    assert set(create["json"]["incident"]["components"].values()) == {"partial_outage"}
    hook = sent["webhook"][0]["json"]
    assert (hook["event"], hook["procedure"], hook["to_version"]) == ("started", procedure, to_version)
    if from_version:
        assert hook["from_version"] == from_version


def assert_completed(sent: dict, project: str, procedure: str, to_version: str,
                     from_version: str | None = None, watched: int = 0) -> None:  # fmt: skip
    """Slack: complete with the version rolled back to; the status page: the incident created at the start
    resolved, components operational; PagerDuty: the incident's alert resolved; the webhook: the versions.

    ``watched``: the seconds of the stability watch that followed the completion. The completion then said the
    watch would follow and left the status page's incident "monitoring"; "stable" came after it and resolved it."""
    incident = incident_of(sent)
    texts = slack_texts(sent)
    done = texts[-2] if watched else texts[-1]
    assert done.startswith(f"✅ ROLLBACK COMPLETE on {project}. Services restored. Current version: {to_version}"), done
    assert not [t for t in texts if "ESCALATION" in t or "FAILED" in t], texts
    create, resolve = sent["statuspage"][0], sent["statuspage"][-1]
    assert incident in create["json"]["incident"]["name"]
    created = create["path"]  # the receiver answers the first POST of a run with spinc1
    assert (resolve["method"], resolve["path"]) == ("PATCH", created + "/spinc1")
    assert resolve["json"]["incident"]["status"] == "resolved"
    assert set(resolve["json"]["incident"]["components"].values()) == {"operational"}
    assert {p["json"]["event_action"] for p in sent["pagerduty"]} == {"resolve"}
    assert len(sent["pagerduty"]) == (2 if watched else 1)
    assert sent["pagerduty"][0]["json"]["dedup_key"] == f"runbook-rollback-{incident}"
    hook = next(m["json"] for m in sent["webhook"] if m["json"]["event"] == "completed")
    assert (hook["event"], hook["procedure"], hook["to_version"]) == ("completed", procedure, to_version)
    if from_version:
        assert hook["from_version"] == from_version
    if not watched:
        assert webhook_events(sent) == ["started", "completed"]
        return
    assert f"Monitoring for stability for {watched}s; its outcome follows" in done, done
    assert sent["statuspage"][-2]["json"]["incident"]["status"] == "monitoring"
    assert texts[-1].startswith(f"🟢 STABLE on {project}: {to_version} held through the stability watch for "), texts
    assert webhook_events(sent) == ["started", "completed", "stable"]


def assert_failed(
    sent: dict, project: str, procedure: str, to_version: str, runs_now: str = "", says: str = ""
) -> None:
    """Slack: failed, saying what runs now (a failure after the stack changed) and ``says``, then an automatic
    escalation to level 2 (DevOps lead); the status page: the incident still open, major outage; PagerDuty:
    triggered and escalated under the incident's key."""
    incident = incident_of(sent)
    texts = slack_texts(sent)
    (failed,) = [t for t in texts if "ROLLBACK FAILED" in t]
    assert failed.startswith(f"❌ ROLLBACK FAILED on {project}: Procedure {procedure}, "), failed
    assert f"→ {to_version}" in failed and says in failed, failed
    message = next(m for m in sent["slack"] if "ROLLBACK FAILED" in m["json"]["text"])
    if runs_now:
        assert runs_now in slack_fields(message)["Stack state"], slack_fields(message)
    (escalation,) = [t for t in texts if "ESCALATION" in t]
    assert f"ESCALATION on {project} to level 2 (DevOps lead): the rollback failed" in escalation, escalation
    assert "ROLLBACK COMPLETE" not in " ".join(texts)
    last = sent["statuspage"][-1]["json"]["incident"]
    assert last["status"] == "investigating" and set(last["components"].values()) == {"major_outage"}
    assert [(p["json"]["event_action"], p["json"]["dedup_key"]) for p in sent["pagerduty"]] == [
        ("trigger", f"runbook-rollback-{incident}")] * 2  # fmt: skip
    assert sent["pagerduty"][1]["json"]["payload"]["custom_details"]["contacts"] == ["@devops-lead"]
    assert webhook_events(sent) == ["started", "failed", "escalation"]
    assert sent["webhook"][-1]["json"]["escalation"]["level"] == 2


def secrets_found(outputs: list[str], *dirs: Path) -> list[str]:
    """Where a secret is (an output by its number, a file by its path): the fault matrix counts them."""
    every = (*SECRETS, *_MORE_SECRETS)
    found = [f"output {i}" for i, out in enumerate(outputs) for s in every if s in out]
    for top in dirs:
        for path in Path(top).rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                found += [str(path) for s in every if s.encode() in data]
    return found


def assert_no_secret(output: str, *dirs: Path) -> int:
    """No URL token, API key, routing key or database password in the run's output nor in any file under
    ``dirs`` (state, incident reports, evidence, timelines); returns how many files were read."""
    every = (*SECRETS, *_MORE_SECRETS)
    for secret in every:
        assert secret not in output, "a secret is in the run's output"
    read = 0
    for top in dirs:
        for path in Path(top).rglob("*"):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                read += 1
                for secret in every:
                    assert secret.encode() not in data, f"a secret is in {path}"
    return read
