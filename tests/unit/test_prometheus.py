"""Prometheus answers -> rollback decision samples: URL building, merging, skipping, refusing."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.prometheus import (
    METRICS,
    PrometheusError,
    collect,
    merge,
    parse_answer,
    query_range_url,
    time_range,
    validate_base_url,
    validate_queries,
)

ERROR_RATE = '100 * sum(rate(mysaas_gateway_requests_total{status_class="5xx"}[1m]))'


def matrix(*series):
    """A successful range answer as httpclient.request returns it; each series is a list of (ts, "value")."""
    result = [{"metric": labels, "values": [list(point) for point in values]} for labels, values in series]
    body = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    return {"status": 200, "json": body, "is_json": True, "error": None}


def one(*values):
    return matrix(({}, list(values)))


def prom_error(error_type, error, status=400):
    body = {"status": "error", "errorType": error_type, "error": error}
    return {"status": status, "json": body, "is_json": True, "error": None}


# --------------------------------------------------------------------------- URL and range


@pytest.mark.parametrize(
    ("base", "start", "end", "step", "expected"),
    [
        pytest.param(
            "http://prom:9090",
            1700000000,
            1700000300,
            15,
            "http://prom:9090/api/v1/query_range?query=up&start=1700000000&end=1700000300&step=15",
            id="integral-seconds-without-fraction",
        ),
        pytest.param(
            "http://prom:9090/",
            1700000000.25,
            1700000300.5,
            1.5,
            "http://prom:9090/api/v1/query_range?query=up&start=1700000000.25&end=1700000300.5&step=1.5",
            id="trailing-slash-and-fractions",
        ),
        pytest.param(
            "https://metrics.example.com/prometheus",
            1700000000.0001,
            1700000300.0,
            15.0,
            "https://metrics.example.com/prometheus/api/v1/query_range?query=up&start=1700000000&end=1700000300&step=15",
            id="path-prefix-and-millisecond-rounding",
        ),
    ],
)
def test_query_range_url(base, start, end, step, expected):
    assert query_range_url(base, "up", start, end, step) == expected


def test_query_range_url_encodes_the_promql():
    url = query_range_url("http://prom:9090", ERROR_RATE + " / 2", 0, 60, 15)
    parsed = urllib.parse.urlsplit(url)
    assert parsed.path == "/api/v1/query_range"
    assert urllib.parse.parse_qs(parsed.query)["query"] == [ERROR_RATE + " / 2"]
    assert " " not in url and '"' not in url and "{" not in url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:9090", "http://127.0.0.1:9090"),
        ("https://metrics.example.com/prometheus/", "https://metrics.example.com/prometheus"),
    ],
)
def test_base_url(url, expected):
    assert validate_base_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("prom:9090", "invalid URL"),
        ("ftp://prom", "invalid URL"),
        ("http://prom:9090/api/v1/query?query=up", "without ?query"),
        ("http://prom:9090/#graph", "without ?query or #fragment"),
    ],
)
def test_bad_base_url(url, message):
    with pytest.raises(PrometheusError, match=message.replace("?", r"\?")):
        validate_base_url(url)


def test_time_range_defaults_to_now():
    assert time_range(300, 15, now=lambda: 1000.0) == (700.0, 1000.0)
    assert time_range(60, 1, end=5000) == (4940.0, 5000.0)


@pytest.mark.parametrize(
    ("duration", "step", "message"),
    [
        (0, 15, "must be positive"),
        (300, 0, "must be positive"),
        (-5, 1, "must be positive"),
        (86400 * 7, 15, "40320 points; Prometheus allows 11000 per series: raise step"),
    ],
)
def test_bad_time_range(duration, step, message):
    with pytest.raises(PrometheusError, match=message):
        time_range(duration, step, now=lambda: 1e9)


# --------------------------------------------------------------------------- metric names


def test_queries_keep_canonical_order_and_strip():
    assert list(validate_queries({"p95_ms": " max(x) ", "error_rate": "sum(y)"})) == ["error_rate", "p95_ms"]
    assert validate_queries({"p95_ms": " max(x) "}) == {"p95_ms": "max(x)"}


@pytest.mark.parametrize(
    ("queries", "message"),
    [
        ({"error-rate": "x", "latency": "y"}, "unknown metric(s) error-rate, latency in queries; allowed: error_rate,"),
        ({"p99_ms": "x"}, "unknown metric(s) p99_ms"),
        ({"error_rate": "  "}, "the PromQL for error_rate must be a non-empty string"),
        ({"error_rate": 5}, "the PromQL for error_rate must be a non-empty string"),
        ({}, "non-empty dictionary"),
        (["error_rate"], "non-empty dictionary"),
    ],
)
def test_bad_queries(queries, message):
    with pytest.raises(PrometheusError) as err:
        validate_queries(queries)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_every_allowed_metric_is_accepted():
    assert list(validate_queries({m: "vector(1)" for m in reversed(METRICS)})) == list(METRICS)


def test_metric_names_are_the_decisions_sample_keys():
    decision = pytest.importorskip("ansible_collections.runbook.rollback.plugins.module_utils.decision")
    assert set(METRICS) == set(decision.SAMPLE_METRICS)


# --------------------------------------------------------------------------- one answer


def test_points_are_floats_in_time_order():
    answer = one((1700000015, "2.5"), (1700000000.5, "1"), (1700000030, "0"))
    assert parse_answer("error_rate", "q", answer) == [(1700000000.5, 1.0), (1700000015.0, 2.5), (1700000030.0, 0.0)]


@pytest.mark.parametrize("value", ["NaN", "+Inf", "-Inf"])
def test_non_finite_values_are_skipped(value):
    answer = one((1, "3"), (2, value), (3, "4"))
    assert parse_answer("error_rate", "q", answer) == [(1.0, 3.0), (3.0, 4.0)]


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("0", False), ("0.5", True), ("-1", True)])
def test_stripe_ok_is_a_bool(raw, expected):
    assert parse_answer("stripe_ok", "min(probe_success)", one((1, raw))) == [(1.0, expected)]


def test_float_noise_is_rounded_away():
    # 100 * 3 / 3 in floating point is not always 100; a percentage check downstream must not trip on it.
    assert parse_answer("error_rate", "q", one((1, "100.00000000000001")))[0][1] == 100.0


def test_no_series_means_no_points():
    assert parse_answer("stripe_ok", "min(probe_success)", matrix()) == []


def test_several_series_are_refused():
    answer = matrix(
        ({"upstream": "chat-service", "status_class": "5xx"}, [(1, "1")]),
        ({"upstream": "auth-service", "status_class": "5xx"}, [(1, "2")]),
        ({"upstream": "billing-service", "status_class": "5xx"}, [(1, "2")]),
        ({"upstream": "frontend", "status_class": "5xx"}, [(1, "2")]),
    )
    with pytest.raises(PrometheusError) as err:
        parse_answer("error_rate", "rate(mysaas_gateway_requests_total[1m])", answer)
    message = str(err.value)
    assert message.startswith("the query for error_rate (rate(mysaas_gateway_requests_total[1m])) returned 4 series")
    assert '{status_class="5xx",upstream="chat-service"}' in message
    assert "..." in message
    assert "must aggregate to one series" in message


def test_prometheus_error_names_metric_and_query():
    answer = prom_error("bad_data", 'invalid parameter "query": 1:7: parse error:\n unclosed left parenthesis')
    with pytest.raises(PrometheusError) as err:
        parse_answer("p95_ms", "max(up", answer)
    assert str(err.value) == (
        'refused the query for p95_ms (max(up): bad_data: invalid parameter "query": 1:7: parse error: '
        "unclosed left parenthesis"
    )


def test_prometheus_error_with_http_200_is_still_an_error():
    with pytest.raises(PrometheusError, match=r"refused the query for error_rate \(q\): timeout: query timed out"):
        parse_answer("error_rate", "q", prom_error("timeout", "query timed out", status=200))


@pytest.mark.parametrize(
    ("response", "message"),
    [
        pytest.param(
            {"status": None, "json": None, "error": "connection refused"},
            "unreachable (connection refused) on the query for error_rate (q)",
            id="unreachable",
        ),
        pytest.param(
            {"status": 502, "json": None, "body": "<html>Bad Gateway</html>", "error": None},
            "HTTP 502 on the query for error_rate (q)",
            id="proxy-error-page",
        ),
        pytest.param(
            {"status": 200, "json": {"hello": "world"}, "error": None},
            "the answer to the query for error_rate (q) is not a Prometheus API response",
            id="not-prometheus",
        ),
        pytest.param(
            {"status": 200, "json": {"status": "success", "data": {"resultType": "vector", "result": []}}},
            "returned vector, expected a range vector (matrix)",
            id="instant-vector",
        ),
        pytest.param(one((1, "abc")), "returned a malformed point [1, 'abc']", id="not-a-number"),
        pytest.param(one(("soon", "1")), "returned a malformed point ['soon', '1']", id="bad-timestamp"),
        pytest.param(matrix(({}, [(1, "1", "2")])), "returned a malformed point", id="triple"),
    ],
)
def test_bad_answers(response, message):
    response.setdefault("error", None)
    with pytest.raises(PrometheusError) as err:
        parse_answer("error_rate", "q", response)
    assert message in str(err.value)


def test_long_queries_are_shortened_in_messages():
    query = "sum(" + "x + " * 200 + "1)"
    with pytest.raises(PrometheusError) as err:
        parse_answer("error_rate", query, {"status": 503, "json": None, "error": None})
    assert len(str(err.value)) < 300
    assert "..." in str(err.value)


# --------------------------------------------------------------------------- merging


def test_merge_on_timestamps_across_metrics():
    samples = merge(
        {
            "error_rate": [(15.0, 20.0), (30.0, 22.5)],
            "p95_ms": [(0.0, 12.0), (15.0, 13.0), (30.0, 11.0)],
            "stripe_ok": [(30.0, True)],
        }
    )
    assert samples == [
        {"ts": 0.0, "p95_ms": 12.0},
        {"ts": 15.0, "error_rate": 20.0, "p95_ms": 13.0},
        {"ts": 30.0, "error_rate": 22.5, "p95_ms": 11.0, "stripe_ok": True},
    ]


def test_merge_of_nothing():
    assert merge({}) == []
    assert merge({"error_rate": []}) == []


# --------------------------------------------------------------------------- one query per metric


class FakeFetch:
    """Answers by PromQL, records what was asked."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, method, url, headers=None, timeout=None):
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        self.calls.append({"method": method, "url": url, "params": params, "headers": headers, "timeout": timeout})
        return self.answers[params["query"][0]]


def test_collect_runs_one_query_per_metric_over_the_same_range():
    fetch = FakeFetch(
        {
            "e": one((0, "NaN"), (15, "21.4"), (30, "19.7")),
            "p": one((0, "0.0128"), (15, "0.0131")),
            "s": matrix(),
        }
    )
    result = collect(
        "http://prom:9090/",
        {"p95_ms": "p", "error_rate": "e", "stripe_ok": "s"},
        0,
        30,
        15,
        timeout=4,
        headers={"Authorization": "Bearer t"},
        fetch=fetch,
    )
    assert result == {
        "samples": [
            {"ts": 0.0, "p95_ms": 0.0128},
            {"ts": 15.0, "error_rate": 21.4, "p95_ms": 0.0131},
            {"ts": 30.0, "error_rate": 19.7},
        ],
        "series_points": {"error_rate": 2, "p95_ms": 2, "stripe_ok": 0},
    }
    assert [c["params"]["query"][0] for c in fetch.calls] == ["e", "p", "s"]
    for call in fetch.calls:
        assert call["method"] == "GET"
        assert call["url"].startswith("http://prom:9090/api/v1/query_range?")
        assert (call["params"]["start"], call["params"]["end"], call["params"]["step"]) == (["0"], ["30"], ["15"])
        assert (call["headers"], call["timeout"]) == ({"Authorization": "Bearer t"}, 4)


def test_samples_are_what_the_decision_takes():
    decision = pytest.importorskip("ansible_collections.runbook.rollback.plugins.module_utils.decision")
    fetch = FakeFetch(
        {
            "e": one((0, "100.00000000000001"), (15, "+Inf"), (30, "12.5")),
            "p": one((0, "250"), (15, "260"), (30, "NaN")),
            "s": one((0, "1"), (30, "0")),
        }
    )
    samples = collect("http://prom:9090", {"error_rate": "e", "p95_ms": "p", "stripe_ok": "s"}, 0, 30, 15,
                      fetch=fetch)["samples"]  # fmt: skip
    assert decision.normalize_samples(samples) == samples


def test_collect_stops_at_the_first_failing_query_and_names_it():
    fetch = FakeFetch({"e": one((0, "1")), "p": prom_error("bad_data", "parse error"), "s": one((0, "1"))})
    with pytest.raises(PrometheusError) as err:
        collect("http://prom:9090", {"error_rate": "e", "p95_ms": "p", "stripe_ok": "s"}, 0, 30, 15, fetch=fetch)
    assert str(err.value) == "Prometheus at http://prom:9090: refused the query for p95_ms (p): bad_data: parse error"
    assert len(fetch.calls) == 2


def test_collect_keeps_credentials_out_of_messages():
    fetch = FakeFetch({"e": {"status": 401, "json": None, "error": None}})
    with pytest.raises(PrometheusError) as err:
        collect("https://ops:s3cret@prom.example.com", {"error_rate": "e"}, 0, 30, 15, fetch=fetch)
    assert str(err.value) == "Prometheus at https://prom.example.com: HTTP 401 on the query for error_rate (e)"


@pytest.mark.parametrize(
    ("url", "queries", "message"),
    [
        ("http://prom:9090", {"latency": "x"}, "unknown metric(s) latency"),
        ("prom:9090", {"error_rate": "x"}, "invalid URL"),
    ],
)
def test_collect_refuses_before_any_request(url, queries, message):
    fetch = FakeFetch({})
    with pytest.raises(PrometheusError, match=message.replace("(", r"\(").replace(")", r"\)")):
        collect(url, queries, 0, 30, 15, fetch=fetch)
    assert fetch.calls == []


# --------------------------------------------------------------------------- the module, through ansible


class FakePrometheus(ThreadingHTTPServer):
    """Just enough of the query_range API: fixed answers by PromQL, and the headers it saw."""

    daemon_threads = True

    def __init__(self, answers):
        super().__init__(("127.0.0.1", 0), PromHandler)
        self.answers = answers
        self.seen = []

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]


class PromHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        parts = urllib.parse.urlsplit(self.path)
        params = urllib.parse.parse_qs(parts.query)
        self.server.seen.append({"path": parts.path, "params": params, "auth": self.headers.get("Authorization")})
        status, body = self.server.answers.get(params.get("query", [""])[0], (404, {}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake_prometheus():
    server = FakePrometheus(
        {
            "e": (200, one((100, "21.4"), (115, "NaN"))["json"]),
            "s": (200, one((100, "1"), (115, "0"))["json"]),
            "bad": (400, prom_error("bad_data", "1:4: parse error: unexpected end of input")["json"]),
        }
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.functional
def test_module_reads_samples_in_check_mode_without_logging_headers(fake_prometheus, ansible_module):
    token = "Bearer do-not-log-me"
    args = {
        "url": fake_prometheus.url,
        "queries": {"error_rate": "e", "stripe_ok": "s"},
        "end": 115,
        "duration": 15,
        "step": 15,
        "headers": {"Authorization": token},
    }
    res = ansible_module("prometheus_samples", args, check=True)
    assert not res.get("failed"), res
    assert res["changed"] is False
    assert res["samples"] == [{"ts": 100.0, "error_rate": 21.4, "stripe_ok": True}, {"ts": 115.0, "stripe_ok": False}]
    assert res["series_points"] == {"error_rate": 1, "stripe_ok": 2}
    assert (res["start"], res["end"], res["step"]) == (100.0, 115.0, 15.0)
    assert res["queries"] == {"error_rate": "e", "stripe_ok": "s"}
    assert {s["auth"] for s in fake_prometheus.seen} == {token}
    assert {s["path"] for s in fake_prometheus.seen} == {"/api/v1/query_range"}
    assert "do-not-log-me" not in json.dumps(res)


@pytest.mark.functional
@pytest.mark.parametrize(
    ("queries", "message"),
    [
        ({"error_rate": "bad"}, "refused the query for error_rate (bad): bad_data: 1:4: parse error"),
        ({"errors": "e"}, "unknown metric(s) errors in queries"),
    ],
)
def test_module_fails_with_one_line(fake_prometheus, ansible_module, queries, message):
    res = ansible_module("prometheus_samples", {"url": fake_prometheus.url, "queries": queries})
    assert res["failed"] is True
    assert message in res["msg"]
    assert "\n" not in res["msg"]
