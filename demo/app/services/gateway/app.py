"""api-gateway: the only published service. Routes /api/<name>/... to the services, everything
else to the frontend, and keeps in-memory request metrics for the rollback runbook's checks."""

import collections
import http.client
import json
import math
import threading
import time

from common import config, log, startup, web

SERVICE = "api-gateway"
UPSTREAM_PORT = 8000
UPSTREAMS = {
    "auth": "auth-service",
    "chat": "chat-service",
    "chats": "chat-service",
    "billing": "billing-service",
    "analytics": "analytics-service",
    "email": "email-worker",
    "frontend": "frontend",
}
FORWARDED_HEADERS = ("Content-Type", "Authorization", "Accept", "X-Request-Id")
CONNECT_TIMEOUT = config.get_float("UPSTREAM_CONNECT_TIMEOUT", 2)
READ_TIMEOUT = config.get_float("UPSTREAM_TIMEOUT", 5)


def percentile(sorted_values, pct):
    """Nearest-rank percentile of an ascending list; 0 for no values."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class Metrics:
    """Recent requests for the windowed figures, plus cumulative counters for /metrics."""

    MAX_RECENT = 200_000

    def __init__(self, window_seconds):
        self.window = window_seconds
        self.lock = threading.Lock()
        self.recent = collections.deque()
        self.counts = collections.Counter()
        self.latency_sum = 0.0
        self.latency_count = 0

    def record(self, upstream, status, latency_ms):
        now = time.monotonic()
        with self.lock:
            self.recent.append((now, status, latency_ms))
            self.counts[(upstream, f"{status // 100}xx")] += 1
            self.latency_sum += latency_ms / 1000
            self.latency_count += 1
            self._prune(now)

    def _prune(self, now):
        horizon = now - self.window
        while self.recent and (self.recent[0][0] < horizon or len(self.recent) > self.MAX_RECENT):
            self.recent.popleft()

    def window_entries(self):
        with self.lock:
            self._prune(time.monotonic())
            return list(self.recent)

    def error_rate(self):
        entries = self.window_entries()
        errors = sum(1 for _, status, _ in entries if status >= 500)
        rate = round(100 * errors / len(entries), 2) if entries else 0.0
        return {"rate": rate, "requests": len(entries), "errors": errors, "window_seconds": self.window}

    def latency(self):
        latencies = sorted(latency for _, _, latency in self.window_entries())
        return {
            "p95": round(percentile(latencies, 95), 2),
            "p50": round(percentile(latencies, 50), 2),
            "requests": len(latencies),
            "window_seconds": self.window,
        }

    def prometheus(self):
        latencies = sorted(latency for _, _, latency in self.window_entries())
        with self.lock:
            counts = sorted(self.counts.items())
            total, count = self.latency_sum, self.latency_count
        lines = [
            "# HELP mysaas_gateway_info Running release of the gateway.",
            "# TYPE mysaas_gateway_info gauge",
            f'mysaas_gateway_info{{version="{config.version()}"}} 1',
            "# HELP mysaas_gateway_requests_total Proxied API requests by upstream and status class.",
            "# TYPE mysaas_gateway_requests_total counter",
        ]
        lines += [
            f'mysaas_gateway_requests_total{{upstream="{upstream}",status_class="{cls}"}} {n}'
            for (upstream, cls), n in counts
        ]
        lines += [
            f"# HELP mysaas_gateway_request_duration_seconds API request latency, last {self.window}s.",
            "# TYPE mysaas_gateway_request_duration_seconds summary",
        ]
        for q in (0.5, 0.95, 0.99):
            lines.append(
                f'mysaas_gateway_request_duration_seconds{{quantile="{q}"}} {percentile(latencies, q * 100) / 1000:.6f}'
            )
        lines += [
            f"mysaas_gateway_request_duration_seconds_sum {total:.6f}",
            f"mysaas_gateway_request_duration_seconds_count {count}",
        ]
        return "\n".join(lines) + "\n"


METRICS = Metrics(config.get_int("METRICS_WINDOW_SECONDS", 60))


class Handler(web.JsonHandler):
    service = SERVICE

    def dispatch(self, method):
        path = self.url_path
        if method == "GET":
            local = {
                "/health": self.health,
                "/api/analytics/errors/rate": lambda: (200, METRICS.error_rate()),
                "/api/analytics/performance/p95": lambda: (200, METRICS.latency()),
            }
            if path in local:
                self.send_json(*local[path]())
                return
            if path == "/metrics":
                self.send_metrics(before=METRICS.prometheus())
                return
        if not path.startswith("/api/"):
            self.proxy(method, "frontend", self.path, record=False)
            return
        name, _, rest = path[len("/api/"):].partition("/")
        upstream = UPSTREAMS.get(name)
        if upstream is None:
            self.send_json(404, {"error": f"no such API: {name}"})
        elif rest == "health":
            self.proxy(method, upstream, "/health", record=False)
        else:
            self.proxy(method, upstream, self.path, record=True)

    def proxy(self, method, upstream, target, record):
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: self.headers[k] for k in FORWARDED_HEADERS if self.headers.get(k)}
        conn = http.client.HTTPConnection(upstream, UPSTREAM_PORT, timeout=CONNECT_TIMEOUT)
        try:
            conn.connect()
            conn.sock.settimeout(READ_TIMEOUT)
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            status, payload = resp.status, resp.read()
            content_type = resp.getheader("Content-Type", "application/json")
        except TimeoutError:
            status, payload, content_type = 504, self.error_body("upstream timed out", upstream), "application/json"
        except (OSError, http.client.HTTPException) as exc:
            log.error("upstream unreachable", upstream=upstream, error=exc.__class__.__name__)
            status, payload, content_type = 502, self.error_body("upstream unavailable", upstream), "application/json"
        finally:
            conn.close()
        if record:
            METRICS.record(upstream, status, (time.monotonic() - started) * 1000)
        self.send_bytes(status, payload, content_type)

    @staticmethod
    def error_body(message, upstream):
        return json.dumps({"error": message, "upstream": upstream}).encode()


def main():
    startup.prepare(SERVICE, needs_db=False)
    # 8080 is the published port; 8000 is the port every service answers on inside the network.
    web.serve(Handler, ports=(8080, 8000))


if __name__ == "__main__":
    main()
