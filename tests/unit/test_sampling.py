"""Sampling the app's endpoints: counter parsing, the critical endpoints' error rate between two
readings, consecutive failed health checks and down time, the tick schedule and stop_when.

The HTTP layer is replaced by a scripted `probe` and the clock by a fake one; the real endpoints are
exercised by the integration tests."""

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.sampling import (
    ServiceTracker,
    critical_rate,
    parse_counters,
    sample,
    stop_condition,
    validate,
)

METRICS = """\
# HELP mysaas_gateway_requests_total Proxied API requests by upstream and status class.
# TYPE mysaas_gateway_requests_total counter
mysaas_gateway_requests_total{upstream="chat-service",status_class="2xx"} 90
mysaas_gateway_requests_total{upstream="chat-service",status_class="5xx"} 10
mysaas_gateway_requests_total{upstream="auth-service",status_class="2xx"} 50
mysaas_gateway_requests_total{upstream="analytics-service",status_class="5xx"} 7
mysaas_gateway_request_duration_seconds_count 157
"""
CRITICAL = ["auth-service", "chat-service", "billing-service"]


def test_parse_counters_sums_by_upstream_and_counts_5xx():
    assert parse_counters(METRICS, "mysaas_gateway_requests_total") == {
        "chat-service": (100.0, 10.0),
        "auth-service": (50.0, 0.0),
        "analytics-service": (7.0, 7.0),
    }


@pytest.mark.parametrize("text", ["", None, "garbage\n{", "mysaas_gateway_requests_total{upstream=\"a\"} NaNx"])
def test_parse_counters_ignores_what_it_cannot_read(text):
    assert parse_counters(text, "mysaas_gateway_requests_total") == {}


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(None, {"chat-service": (10.0, 1.0)}, None, id="first-reading"),
        pytest.param({"chat-service": (100.0, 10.0)}, {"chat-service": (100.0, 10.0)}, None, id="no-requests"),
        pytest.param({"chat-service": (100.0, 10.0)}, {"chat-service": (200.0, 60.0)}, 50.0, id="half-failed"),
        pytest.param({"chat-service": (100.0, 10.0)}, {"chat-service": (50.0, 1.0)}, None, id="counter-reset"),
        pytest.param(
            {"chat-service": (100.0, 10.0), "analytics-service": (0.0, 0.0)},
            {"chat-service": (110.0, 10.0), "analytics-service": (100.0, 100.0)},
            0.0,
            id="non-critical-errors-do-not-count",
        ),
    ],
)
def test_critical_rate(before, after, expected):
    assert critical_rate(before, after, CRITICAL) == expected


def test_tracker_counts_consecutive_failures_and_down_time():
    tracker = ServiceTracker([{"name": "chat", "service": "chat-service", "critical": True, "url": "u"}])
    tracker.record("chat", False, 100.0, "HTTP 502")
    tracker.record("chat", False, 105.0, "HTTP 502")
    assert tracker.services(110.0) == [
        {"name": "chat-service", "critical": True, "healthy": False, "failed_checks": 2, "down_seconds": 10.0}
    ]
    tracker.record("chat", True, 115.0)
    assert tracker.services(115.0)[0] == {
        "name": "chat-service", "critical": True, "healthy": True, "failed_checks": 0, "down_seconds": 0,
    }  # fmt: skip


class FakeTime:
    def __init__(self):
        self.now = 1000.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def scripted(rates, healthy=True):
    """A probe answering the error-rate endpoint from `rates` in turn (None: endpoint down)."""
    answers = iter(rates)

    def probe(method, url, timeout):
        if url.endswith("/rate"):
            rate = next(answers)
            if rate is None:
                return {"status": None, "json": None, "error": "connection refused"}
            return {"status": 200, "json": {"rate": rate, "requests": 10}, "error": None}
        if url.endswith("/health"):
            return {"status": 200 if healthy else 502, "json": {}, "is_json": healthy, "error": None}
        raise AssertionError(url)

    return probe


def params(**extra):
    base = {"error_rate_url": "http://127.0.0.1:1/rate", "duration": 4, "interval": 1, "timeout": 1}
    base.update(extra)
    return base


def test_sample_takes_a_sample_per_interval_including_both_ends():
    t = FakeTime()
    result = sample(params(), probe=scripted([0.0] * 5), clock=t.clock, monotonic=t.clock, sleep=t.sleep)
    assert [s["ts"] for s in result["samples"]] == [1000.0, 1001.0, 1002.0, 1003.0, 1004.0]
    assert [s["error_rate"] for s in result["samples"]] == [0.0] * 5
    assert result["stopped_early"] is False


def test_unreadable_figures_are_left_out_not_zeroed():
    t = FakeTime()
    result = sample(params(duration=2), probe=scripted([3.0, None, 4.0]), clock=t.clock, monotonic=t.clock,
                    sleep=t.sleep)  # fmt: skip
    assert ["error_rate" in s for s in result["samples"]] == [True, False, True]
    assert result["unreadable"] == {"error_rate": "connection refused"}


def test_stop_when_ends_sampling_once_the_rate_has_stayed_high():
    t = FakeTime()
    stop = {"metric": "error_rate", "at_least": 1.0, "seconds": 2}
    result = sample(
        params(duration=60, stop_when=stop), probe=scripted([0.5, 2.0, 3.0, 1.0, 9.0] + [0.0] * 60),
        clock=t.clock, monotonic=t.clock, sleep=t.sleep,
    )  # fmt: skip
    # 2.0, 3.0, 1.0 are all >= 1 over 2 s: stopped at the fourth sample, not after a minute.
    assert len(result["samples"]) == 4
    assert result["stopped_early"] is True and result["stop_observed"] == 1.0
    assert "stopped: error_rate >= 1.0 for 2s" in result["summary"]


def test_health_endpoints_become_services():
    t = FakeTime()
    eps = [{"name": "billing", "service": "billing-service", "url": "http://127.0.0.1:1/health"}]
    result = sample({"health_endpoints": eps, "duration": 2, "interval": 1, "timeout": 1},
                    probe=scripted([], healthy=False), clock=t.clock, monotonic=t.clock, sleep=t.sleep)  # fmt: skip
    assert result["services"] == [
        {"name": "billing-service", "critical": False, "healthy": False, "failed_checks": 3, "down_seconds": 2.0}
    ]
    assert result["health_errors"] == {"billing": "HTTP 502"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"duration": 5, "interval": 0, "timeout": 1, "error_rate_url": "http://x/"}, "interval and timeout"),
        ({"duration": 5, "interval": 1, "timeout": 1}, "nothing to sample"),
        ({"duration": 5, "interval": 1, "timeout": 1, "error_rate_url": "file:///etc/passwd"}, "invalid URL"),
        ({"duration": 5, "interval": 1, "timeout": 1, "health_endpoints": [{"name": "x"}]}, "needs both name and url"),
        ({"duration": 5, "interval": 1, "timeout": 1, "metrics_url": "http://x/metrics"}, "needs requests_counter"),
        (
            {"duration": 5, "interval": 1, "timeout": 1, "error_rate_url": "http://x/", "stop_when": {"m": 1}},
            "stop_when takes",
        ),
    ],
)
def test_validate_refuses(bad, message):
    with pytest.raises(ValueError, match=message):
        validate(bad)


def test_stop_condition_needs_the_whole_window():
    samples = [{"ts": 0, "error_rate": 5.0}, {"ts": 1, "error_rate": 5.0}]
    assert stop_condition(samples, {"metric": "error_rate", "at_least": 1, "seconds": 2}) == (False, None)
    assert stop_condition(samples, {"metric": "error_rate", "at_least": 1, "seconds": 1}) == (True, 5.0)
