"""A local HTTP receiver standing in for Slack, Statuspage, PagerDuty and a JSON webhook: it records what
each channel was sent. Used by the notify tests and by the procedures' notification checks."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Unique values, so that finding one anywhere in the output can only mean a leak.
SLACK_TOKEN = "slacktok" + uuid.uuid4().hex
STATUSPAGE_KEY = "spkey" + uuid.uuid4().hex
ROUTING_KEY = "pdroute" + uuid.uuid4().hex
WEBHOOK_TOKEN = "hooktok" + uuid.uuid4().hex
SECRETS = (SLACK_TOKEN, STATUSPAGE_KEY, ROUTING_KEY, WEBHOOK_TOKEN)

LEVELS = [
    {"level": 1, "name": "on-call engineer", "contacts": ["@oncall"], "channels": ["slack"]},
    {"level": 2, "name": "DevOps lead", "contacts": ["@devops-lead"], "channels": ["slack", "pagerduty", "webhook"]},
    {"level": 3, "name": "engineering manager", "contacts": ["@engineering-manager", "em@example.com"],
     "channels": ["slack", "statuspage", "pagerduty", "webhook"]},
    {"level": 4, "name": "CTO", "contacts": ["cto@example.com"], "channels": ["slack", "pagerduty", "webhook"]},
]  # fmt: skip


class Receiver:
    """An HTTP server on 127.0.0.1 that records every request; `mode` is ok, error (500) or hang."""

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
                if receiver.mode == "hang":
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
