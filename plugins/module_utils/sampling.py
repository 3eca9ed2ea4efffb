# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sampling the application's own endpoints into rollback_decision's `samples` and `services`.

One tick reads the error-rate and latency endpoints, the critical upstreams' request counters from the
Prometheus text at /metrics (their change since the previous tick gives the critical endpoints' error rate),
and every health endpoint. Figures that cannot be read are left out of that tick's sample: the decision then
reports the rule as having no data rather than guessing a zero.
"""

from __future__ import annotations

import re
import time

from ansible_collections.runbook.rollback.plugins.module_utils.decision import window_values
from ansible_collections.runbook.rollback.plugins.module_utils.health import evaluate as health_verdict
from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import request, validate_url

_COUNTER = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_counters(text, name, label="upstream", status_label="status_class"):
    """{label value: (total, errors_5xx)} from the Prometheus text exposition of counter `name`."""
    out = {}
    for line in (text or "").splitlines():
        match = _COUNTER.match(line)
        if not match or match.group("name") != name:
            continue
        labels = dict(_LABEL.findall(match.group("labels") or ""))
        try:
            value = float(match.group("value"))
        except ValueError:
            continue
        key = labels.get(label, "")
        total, errors = out.get(key, (0.0, 0.0))
        out[key] = (total + value, errors + (value if labels.get(status_label) == "5xx" else 0.0))
    return out


def critical_rate(previous, current, upstreams):
    """Percent of 5xx among the critical upstreams' requests between two counter readings, or None.

    None when there is no earlier reading, no request in between, or a counter went backwards (the
    gateway restarted and its counters began again).
    """
    if previous is None or current is None:
        return None
    d_total = d_errors = 0.0
    for upstream in upstreams:
        before, now = previous.get(upstream, (0.0, 0.0)), current.get(upstream, (0.0, 0.0))
        if now[0] < before[0] or now[1] < before[1]:
            return None
        d_total += now[0] - before[0]
        d_errors += now[1] - before[1]
    if d_total <= 0:
        return None
    return round(100.0 * d_errors / d_total, 3)


def _windowed(body, key):
    """A figure from the gateway's windowed JSON, or None when absent or measured over no request."""
    if not isinstance(body, dict) or not isinstance(body.get(key), (int, float)) or isinstance(body.get(key), bool):
        return None
    if body.get("requests") == 0:
        return None
    return float(body[key])


class ServiceTracker:
    """Consecutive failed health checks and how long each endpoint has been failing."""

    def __init__(self, endpoints):
        self.endpoints = endpoints
        self.state = {ep["name"]: {"failed": 0, "since": None, "healthy": None, "error": None} for ep in endpoints}

    def record(self, name, ok, ts, error=None):
        st = self.state[name]
        st["healthy"], st["error"] = ok, error
        if ok:
            st["failed"], st["since"] = 0, None
        else:
            st["failed"] += 1
            if st["since"] is None:
                st["since"] = ts

    def services(self, now):
        out = []
        for ep in self.endpoints:
            st = self.state[ep["name"]]
            out.append(
                {
                    "name": ep.get("service") or ep["name"],
                    "critical": bool(ep.get("critical", False)),
                    "healthy": bool(st["healthy"]),
                    "failed_checks": st["failed"],
                    "down_seconds": round(now - st["since"], 3) if st["since"] is not None else 0,
                }
            )
        return out

    def errors(self):
        return {name: st["error"] for name, st in self.state.items() if st["error"]}


def validate(params):
    for key in ("error_rate_url", "latency_url", "metrics_url"):
        if params.get(key):
            validate_url(params[key])
    if params.get("metrics_url") and not params.get("counter"):
        raise ValueError("metrics_url needs requests_counter, the name of its request counter")
    for i, ep in enumerate(params.get("health_endpoints") or []):
        if not isinstance(ep, dict) or not ep.get("name") or not ep.get("url"):
            raise ValueError("health_endpoints[%d] needs both name and url" % i)
        validate_url(ep["url"])
    if params["interval"] <= 0 or params["duration"] < 0 or params["timeout"] <= 0:
        raise ValueError("interval and timeout must be positive and duration not negative")
    stop = params.get("stop_when")
    if stop:
        if set(stop) - {"metric", "at_least", "seconds"} or not stop.get("metric") or stop.get("at_least") is None:
            raise ValueError("stop_when takes metric, at_least and seconds")
    if not any(params.get(k) for k in ("error_rate_url", "latency_url", "metrics_url", "health_endpoints")):
        raise ValueError("nothing to sample: give at least one URL or health endpoint")


def stop_condition(samples, stop):
    """(met, lowest value) for "metric >= at_least for seconds" over the latest samples."""
    if not stop:
        return False, None
    state, values = window_values(samples, stop["metric"], float(stop.get("seconds") or 0))
    if state != "ok":
        return False, None
    return all(v >= float(stop["at_least"]) for v in values), min(values)


def sample(params, probe=request, clock=time.time, monotonic=time.monotonic, sleep=time.sleep):
    """Sample every `interval` seconds for `duration` seconds (inclusive ends); return the module's result."""
    endpoints = params.get("health_endpoints") or []
    tracker = ServiceTracker(endpoints)
    timeout = params["timeout"]
    samples, unreadable = [], {}
    previous_counters = None
    met, observed = False, None
    started = monotonic()
    tick = 0
    while True:
        ts = clock()
        point = {"ts": round(ts, 3)}
        if params.get("error_rate_url"):
            resp = probe("GET", params["error_rate_url"], timeout=timeout)
            value = _windowed(resp.get("json"), "rate") if resp.get("status") == 200 else None
            if value is None:
                unreadable["error_rate"] = resp.get("error") or "HTTP %s" % resp.get("status")
            else:
                point["error_rate"] = value
        if params.get("latency_url"):
            resp = probe("GET", params["latency_url"], timeout=timeout)
            body = resp.get("json") if resp.get("status") == 200 else None
            for key, metric in (("p95", "p95_ms"), ("p50", "p50_ms")):
                value = _windowed(body, key)
                if value is not None:
                    point[metric] = value
        if params.get("metrics_url"):
            resp = probe("GET", params["metrics_url"], timeout=timeout)
            counters = parse_counters(resp.get("body"), params["counter"]) if resp.get("status") == 200 else None
            rate = critical_rate(previous_counters, counters, params["critical_upstreams"])
            if rate is not None:
                point["critical_error_rate"] = rate
            previous_counters = counters
        for ep in endpoints:
            verdict = health_verdict(ep["name"], ep["url"], probe("GET", ep["url"], timeout=timeout))
            tracker.record(ep["name"], verdict["ok"], ts, verdict["error"])
        samples.append(point)
        met, observed = stop_condition(samples, params.get("stop_when"))
        tick += 1
        next_at = started + tick * params["interval"]
        if met or next_at - started > params["duration"] + 1e-6:
            break
        sleep(max(0.0, next_at - monotonic()))
    services = tracker.services(samples[-1]["ts"])
    return {
        "samples": samples,
        "services": services,
        "stopped_early": bool(met),
        "stop_observed": observed,
        "unreadable": unreadable,
        "health_errors": tracker.errors(),
        "summary": summarize(samples, services, met, params.get("stop_when"), observed),
    }


def summarize(samples, services, met=False, stop=None, observed=None):
    span = samples[-1]["ts"] - samples[0]["ts"] if samples else 0
    parts = ["%d samples over %gs" % (len(samples), round(span, 1))]
    latest = samples[-1] if samples else {}
    for metric, fmt in (("error_rate", "error rate %g%%"), ("critical_error_rate", "critical %g%%"),
                        ("p95_ms", "p95 %g ms")):  # fmt: skip
        if metric in latest:
            parts.append(fmt % round(latest[metric], 2))
    if services:
        down = [s["name"] for s in services if not s["healthy"]]
        parts.append("%d/%d services healthy%s" % (len(services) - len(down), len(services),
                                                   " (down: %s)" % ", ".join(down) if down else ""))  # fmt: skip
    if met:
        seconds = float(stop.get("seconds") or 0)
        parts.append("stopped: %s >= %s for %gs (lowest %g)" % (stop["metric"], stop["at_least"], seconds, observed))
    return "; ".join(parts)
