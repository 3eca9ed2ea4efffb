# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus as a metrics source for runbook.rollback.rollback_decision: one range query per metric,
merged into time-ordered samples C({"ts": ..., "<metric>": value, ...})."""

from __future__ import annotations

import math
import time
import urllib.parse

from ansible_collections.runbook.rollback.plugins.module_utils.decision import BOOL_METRICS, SAMPLE_METRICS
from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import request, validate_url

# The sample keys rollback_decision understands; a typo must fail here, not silently feed nothing.
METRICS = SAMPLE_METRICS
# Prometheus refuses a range query of more than 11,000 points per series.
MAX_POINTS = 11000
QUERY_RANGE_PATH = "/api/v1/query_range"


class PrometheusError(ValueError):
    """A query that cannot give samples; the message is one line, fit for a task failure."""


def _one_line(text, limit=300):
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def validate_queries(queries):
    """Return the queries as a dict metric -> PromQL; refuse unknown metrics and empty queries."""
    if not isinstance(queries, dict) or not queries:
        raise PrometheusError("queries must be a non-empty dictionary of metric name -> PromQL")
    unknown = sorted(str(m) for m in queries if m not in METRICS)
    if unknown:
        raise PrometheusError("unknown metric(s) %s in queries; allowed: %s" % (", ".join(unknown), ", ".join(METRICS)))
    empty = [m for m in METRICS if m in queries and (not isinstance(queries[m], str) or not queries[m].strip())]
    if empty:
        raise PrometheusError("the PromQL for %s must be a non-empty string" % ", ".join(empty))
    return {m: queries[m].strip() for m in METRICS if m in queries}


def validate_base_url(url):
    try:
        validate_url(url)
    except ValueError as exc:
        raise PrometheusError(str(exc)) from None
    parts = urllib.parse.urlsplit(url)
    if parts.query or parts.fragment:
        raise PrometheusError("invalid Prometheus URL %r: give the base URL, without ?query or #fragment" % (url,))
    return url.rstrip("/")


def time_range(duration, step, end=None, now=time.time):
    """(start, end) in epoch seconds for the last `duration` seconds before `end` (default now)."""
    if duration is None or duration <= 0 or step is None or step <= 0:
        raise PrometheusError("duration and step must be positive numbers of seconds")
    if duration / step > MAX_POINTS:
        raise PrometheusError(
            "duration %g s at step %g s is %d points; Prometheus allows %d per series: raise step"
            % (duration, step, math.ceil(duration / step), MAX_POINTS)
        )
    end = float(now() if end is None else end)
    return end - duration, end


def _num(value):
    """A number as Prometheus reads it: integral seconds without a fraction, others to the millisecond."""
    value = round(float(value), 3)
    return "%d" % value if value == int(value) else repr(value)


def display_url(url):
    """The URL without user:password@, for messages."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def query_range_url(base_url, query, start, end, step):
    params = [("query", query), ("start", _num(start)), ("end", _num(end)), ("step", _num(step))]
    return base_url.rstrip("/") + QUERY_RANGE_PATH + "?" + urllib.parse.urlencode(params)


def _value(metric, raw):
    """The sample value of one point, or None when it is not a finite number (NaN, +Inf, -Inf)."""
    number = float(raw)
    if not math.isfinite(number):
        return None
    if metric in BOOL_METRICS:
        return number != 0
    # Rounding hides float noise such as 100 * x / x = 100.00000000000001, which a percentage check would refuse.
    return round(number, 6)


def _series_label(series):
    labels = series.get("metric") if isinstance(series, dict) else None
    if not isinstance(labels, dict) or not labels:
        return "{}"
    return "{%s}" % ",".join('%s="%s"' % (k, labels[k]) for k in sorted(labels))


def parse_answer(metric, query, response):
    """(ts, value) points of one query's answer, as returned by httpclient.request; time-ordered.

    A query must come back as one series (or none: the metric is absent everywhere); several series
    mean the PromQL does not aggregate, and picking one would be a guess.
    """
    where = "query for %s (%s)" % (metric, _one_line(query, 200))
    body = response.get("json")
    if response.get("error"):
        raise PrometheusError("unreachable (%s) on the %s" % (response["error"], where))
    if isinstance(body, dict) and body.get("status") == "error":
        raise PrometheusError(
            "refused the %s: %s: %s"
            % (where, body.get("errorType") or "error", _one_line(body.get("error") or "no reason given"))
        )
    if response.get("status") != 200:
        raise PrometheusError("HTTP %s on the %s" % (response.get("status"), where))
    if not isinstance(body, dict) or body.get("status") != "success" or not isinstance(body.get("data"), dict):
        raise PrometheusError("the answer to the %s is not a Prometheus API response" % where)
    data = body["data"]
    if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
        raise PrometheusError(
            "the %s returned %s, expected a range vector (matrix)" % (where, data.get("resultType") or "nothing")
        )
    result = data["result"]
    if not result:
        return []
    if len(result) > 1:
        shown = ", ".join(_series_label(s) for s in result[:3]) + (", ..." if len(result) > 3 else "")
        raise PrometheusError(
            "the %s returned %d series (%s); the PromQL must aggregate to one series, e.g. with sum() or max()"
            % (where, len(result), shown)
        )
    points = []
    for pair in result[0].get("values") or []:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise PrometheusError("the %s returned a malformed point %r" % (where, pair))
        try:
            ts = round(float(pair[0]), 3)
            value = _value(metric, pair[1])
        except (TypeError, ValueError):
            raise PrometheusError("the %s returned a malformed point %r" % (where, pair)) from None
        if value is not None:
            points.append((ts, value))
    points.sort(key=lambda p: p[0])
    return points


def merge(points_by_metric):
    """Time-ordered samples {"ts": float, "<metric>": value, ...} from metric -> [(ts, value)]."""
    by_ts = {}
    for metric, points in points_by_metric.items():
        for ts, value in points:
            by_ts.setdefault(ts, {"ts": ts})[metric] = value
    return [by_ts[ts] for ts in sorted(by_ts)]


def collect(base_url, queries, start, end, step, timeout=10.0, headers=None, fetch=request):
    """Run one range query per metric and merge the answers; raise PrometheusError on the first failure."""
    base_url = validate_base_url(base_url)
    queries = validate_queries(queries)
    if end < start:
        raise PrometheusError("end must not be before start")
    points = {}
    for metric, query in queries.items():
        url = query_range_url(base_url, query, start, end, step)
        response = fetch("GET", url, headers=headers, timeout=timeout)
        try:
            points[metric] = parse_answer(metric, query, response)
        except PrometheusError as exc:
            raise PrometheusError("Prometheus at %s: %s" % (display_url(base_url), exc)) from None
    return {
        "samples": merge(points),
        "series_points": {metric: len(p) for metric, p in points.items()},
    }
