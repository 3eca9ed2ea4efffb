#!/usr/bin/env python3
"""Bounded user traffic through the staging gateway, with downtime figures at the end.

    python3 demo/traffic.py --url http://127.0.0.1:18080 --duration 60 --rate 20 \
        [--workers 4] [--max-requests 20000] [--out result.json]

Each worker registers its own user, then loops over realistic flows (login, list chats, create
a chat, post and read messages, the odd checkout, health) at about --rate requests per second
in total. It stops when the duration is over, the request cap is reached, or on SIGTERM/SIGINT,
and always writes its figures: one JSON summary line on stdout, the full result (with every
request, and every write the app accepted: the text of each chat and message answered 201) in --out.
Chat titles and message bodies are unique, so a test can tell whether an accepted write was kept.

A request fails when it gets no HTTP answer or a 5xx; 4xx answers are the client's business
(an expired session, a chat lost to a migration) and the flow recovers from them.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import random
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

ALLOWED_HOSTS = {"127.0.0.1", "localhost", "::1"}
PLANS = ("starter", "pro", "team")
# Flow name -> relative weight: mostly chat reads and writes, like the real product.
FLOWS = {
    "list_chats": 25,
    "post_message": 25,
    "read_messages": 15,
    "create_chat": 10,
    "me": 8,
    "login": 5,
    "checkout": 5,
    "health": 7,
}


# The flows that write, and the field whose (unique) text a test can look for afterwards.
WRITES = {"create_chat": "title", "post_message": "body"}


@dataclass(frozen=True)
class Sample:
    t: float  # wall-clock time the request was sent
    flow: str
    status: int | str  # HTTP status, or "connection error" / "timeout"
    latency_ms: float

    @property
    def failed(self) -> bool:
        return is_failure(self.status)


def is_failure(status: int | str) -> bool:
    return not isinstance(status, int) or status >= 500


def error_kind(status: int | str) -> str:
    return status if isinstance(status, str) else f"http {status}"


def downtime(events: list[tuple[float, bool]]) -> tuple[float, float]:
    """(total, longest) unavailability from (time, failed) pairs.

    Events are ordered by time; each maximal run of consecutive failures counts from its first
    failure to the next success. A run still open at the end lasts until the last event.
    """
    total = longest = 0.0
    run_start = None
    last_t = None
    for t, failed in sorted(events, key=lambda e: e[0]):
        last_t = t
        if failed:
            if run_start is None:
                run_start = t
        elif run_start is not None:
            span = t - run_start
            total += span
            longest = max(longest, span)
            run_start = None
    if run_start is not None:
        span = last_t - run_start
        total += span
        longest = max(longest, span)
    return total, longest


def longest_wait(samples: list[dict], failed=is_failure) -> float:
    """The longest time in which no request got a good answer, in seconds.

    Measured between the answers (sent + latency), not the sends: a request the proxy held until the service came
    back was answered only then, and a user waited for it all along. From the first request sent and up to the last
    answer or failure: an outage still open when the samples end counts too. `failed(status)` says which answers
    are not good. 0 without samples."""
    if not samples:
        return 0.0
    first = min(s["t"] for s in samples)
    last = max(s["t"] + s["latency_ms"] / 1000 for s in samples)
    answers = sorted(s["t"] + s["latency_ms"] / 1000 for s in samples if not failed(s["status"]))
    return max(later - earlier for earlier, later in itertools.pairwise([first, *answers, last]))


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def iso(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, tz=datetime.UTC).isoformat(timespec="milliseconds")


def summarize(samples: list[Sample], started: float, ended: float, versions: list[str]) -> dict:
    failed = [s for s in samples if s.failed]
    kinds: dict[str, int] = {}
    for s in failed:
        kinds[error_kind(s.status)] = kinds.get(error_kind(s.status), 0) + 1
    unavailable, longest = downtime([(s.t, s.failed) for s in samples])
    return {
        "requests": len(samples),
        "ok": len(samples) - len(failed),
        "failed": len(failed),
        "error_rate": round(100 * len(failed) / len(samples), 2) if samples else 0.0,
        "p95_ms": round(percentile([s.latency_ms for s in samples], 95), 2),
        "errors_by_kind": dict(sorted(kinds.items())),
        "unavailable_seconds": round(unavailable, 3),
        "longest_outage_seconds": round(longest, 3),
        "started_at": iso(started),
        "ended_at": iso(ended),
        "versions_seen": versions,
    }


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ALLOWED_HOSTS:
        raise ValueError(f"refusing {url!r}: only http://127.0.0.1, localhost or [::1] may be targeted")
    return url.rstrip("/")


class Run:
    """State shared by the workers: the pace, the request cap, the samples, the stop signal."""

    def __init__(self, base: str, rate: float, duration: float, max_requests: int, timeout: float):
        self.base = base
        self.interval = 1 / rate
        self.deadline = time.monotonic() + duration
        self.max_requests = max_requests
        self.timeout = timeout
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.next_slot = time.monotonic()
        self.sent = 0
        self.samples: list[Sample] = []
        self.versions: list[str] = []
        # (flow, text, wall time) of every write the app accepted (201).
        self.writes: list[tuple[str, str, float]] = []

    def acquire_slot(self) -> bool:
        """Wait for this request's turn; False once the run is over (time, cap or signal)."""
        with self.lock:
            if self.sent >= self.max_requests:
                self.stop.set()
                return False
            self.sent += 1
            slot = max(self.next_slot, time.monotonic())
            self.next_slot = slot + self.interval
        if slot >= self.deadline:
            self.stop.set()
            return False
        return not self.stop.wait(max(0.0, slot - time.monotonic()))

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None):
        """One HTTP request; returns (status, parsed JSON or None, latency ms, wall time sent)."""
        data = json.dumps(body).encode() if body is not None else None
        # check_url() has already limited the base to http on a loopback host.
        req = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        sent = time.time()
        start = time.monotonic()
        payload = None
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        except (TimeoutError, urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            status, raw = ("timeout" if isinstance(reason, TimeoutError) else "connection error"), b""
        latency = (time.monotonic() - start) * 1000
        if raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = None
        return status, payload, latency, sent

    def record(self, flow: str, status, latency: float, sent: float) -> None:
        with self.lock:
            self.samples.append(Sample(round(sent, 4), flow, status, round(latency, 2)))

    def accepted(self, flow: str, text: str, sent: float) -> None:
        with self.lock:
            self.writes.append((flow, text, round(sent, 4)))


class User:
    """One simulated user, driven by one worker thread."""

    def __init__(self, run: Run, index: int, run_id: str, seed: int):
        self.run = run
        self.email = f"traffic-{run_id}-{index}@staging.invalid"
        self.password = uuid.uuid4().hex
        self.token: str | None = None
        self.chats: list[int] = []
        self.rng = random.Random(seed)  # noqa: S311 - simulated user behaviour, not security

    def request(self, flow: str, method: str, path: str, body: dict | None = None, auth: bool = True):
        """Send one paced request; None once the run is over."""
        if not self.run.acquire_slot():
            return None
        status, payload, latency, sent = self.run.call(method, path, body, self.token if auth else None)
        self.run.record(flow, status, latency, sent)
        if status == 201 and flow in WRITES:
            self.run.accepted(flow, body[WRITES[flow]], sent)
        if status == 401 and auth:
            self.token = None  # session gone (redis restarted): log in again on the next flow
        return status, payload

    def ensure_login(self) -> bool:
        if self.token:
            return True
        result = self.request("login", "POST", "/api/auth/login", {"email": self.email, "password": self.password},
                              auth=False)
        if result and result[0] == 200 and isinstance(result[1], dict):
            self.token = result[1].get("token")
        return bool(self.token)

    def register(self) -> None:
        self.request("register", "POST", "/api/auth/register", {"email": self.email, "password": self.password},
                     auth=False)

    def ensure_chat(self) -> int | None:
        if not self.chats:
            self.flow_create_chat()
        return self.rng.choice(self.chats) if self.chats else None

    def flow_create_chat(self) -> None:
        result = self.request("create_chat", "POST", "/api/chats", {"title": f"chat {uuid.uuid4().hex[:16]}"})
        if result and result[0] == 201 and isinstance(result[1], dict):
            self.chats.append(result[1]["id"])

    def flow_post_message(self) -> None:
        chat = self.ensure_chat()
        if chat is not None:
            result = self.request("post_message", "POST", f"/api/chats/{chat}/messages",
                                  {"body": f"hello {uuid.uuid4().hex[:16]}"})
            self.forget_missing_chat(result, chat)

    def flow_read_messages(self) -> None:
        chat = self.ensure_chat()
        if chat is not None:
            self.forget_missing_chat(self.request("read_messages", "GET", f"/api/chats/{chat}/messages"), chat)

    def forget_missing_chat(self, result, chat: int) -> None:
        # A chat can vanish under us (a destructive migration, a restored backup): start a new one.
        if result and result[0] == 404 and chat in self.chats:
            self.chats.remove(chat)

    def step(self) -> None:
        flow = self.rng.choices(list(FLOWS), weights=list(FLOWS.values()))[0]
        if flow == "health":
            self.request("health", "GET", "/health", auth=False)
            return
        if flow == "login":
            self.token = None
        if not self.ensure_login() or flow == "login":
            return
        if flow == "list_chats":
            self.request("list_chats", "GET", "/api/chats")
        elif flow == "create_chat":
            self.flow_create_chat()
        elif flow == "post_message":
            self.flow_post_message()
        elif flow == "read_messages":
            self.flow_read_messages()
        elif flow == "me":
            self.request("me", "GET", "/api/auth/me")
        elif flow == "checkout":
            self.request("checkout", "POST", "/api/billing/checkout", {"plan": self.rng.choice(PLANS)})

    def work(self) -> None:
        self.register()
        while not self.run.stop.is_set():
            self.step()


def watch_versions(run: Run, every: float) -> None:
    """Poll the gateway's /health and note each version it reports, in order of appearance."""
    while not run.stop.is_set():
        status, payload, _, _ = run.call("GET", "/health")
        if status == 200 and isinstance(payload, dict):
            version = payload.get("version")
            with run.lock:
                if version and version not in run.versions:
                    run.versions.append(version)
        run.stop.wait(every)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:18080", help="gateway base URL (loopback only)")
    parser.add_argument("--duration", type=float, default=60, help="seconds to run (default 60)")
    parser.add_argument("--rate", type=float, default=20, help="requests per second in total (default 20)")
    parser.add_argument("--workers", type=int, default=4, help="simulated users in parallel (default 4)")
    parser.add_argument("--max-requests", type=int, default=20000, help="hard cap on requests (default 20000)")
    parser.add_argument("--timeout", type=float, default=5, help="per-request timeout in seconds (default 5)")
    parser.add_argument("--health-interval", type=float, default=1, help="seconds between version polls")
    parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable flows")
    parser.add_argument("--out", help="write the full result, with every request, to this JSON file")
    args = parser.parse_args(argv)
    try:
        args.url = check_url(args.url)
    except ValueError as exc:
        parser.error(str(exc))
    for name in ("duration", "rate", "timeout", "health_interval"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.workers < 1 or args.max_requests < 1:
        parser.error("--workers and --max-requests must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Run(args.url, args.rate, args.duration, args.max_requests, args.timeout)

    def request_stop(_signum, _frame):
        run.stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    seed = args.seed if args.seed is not None else random.randrange(2**32)  # noqa: S311 - not security
    run_id = uuid.uuid4().hex[:8]
    started = time.time()
    threads = [threading.Thread(target=watch_versions, args=(run, args.health_interval), daemon=True)]
    threads += [
        threading.Thread(target=User(run, i, run_id, seed + i).work, name=f"user-{i}", daemon=True)
        for i in range(args.workers)
    ]
    for thread in threads:
        thread.start()
    # Join in short slices so the signal handlers (main thread only) run promptly.
    while any(t.is_alive() for t in threads[1:]):
        for thread in threads[1:]:
            thread.join(timeout=0.2)
    run.stop.set()
    threads[0].join(timeout=args.timeout + 1)
    ended = time.time()

    with run.lock:
        samples = sorted(run.samples, key=lambda s: s.t)
        versions = list(run.versions)
        writes = sorted(run.writes, key=lambda w: w[2])
    summary = summarize(samples, started, ended, versions)
    summary.update(url=args.url, rate=args.rate, workers=args.workers, seed=seed)
    print(json.dumps(summary), flush=True)
    if args.out:
        full = dict(summary, samples=[{"t": s.t, "flow": s.flow, "status": s.status, "latency_ms": s.latency_ms}
                                      for s in samples],
                    writes=[{"flow": f, "text": text, "t": t} for f, text, t in writes])  # fmt: skip
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(full, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
