"""Pure logic of demo/traffic.py: how failures turn into downtime and error figures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "demo" / "traffic.py"
_SPEC = importlib.util.spec_from_file_location("demo_traffic", _PATH)
traffic = importlib.util.module_from_spec(_SPEC)
# dataclasses look their module up in sys.modules while the file executes.
sys.modules[_SPEC.name] = traffic
_SPEC.loader.exec_module(traffic)


def test_no_requests_means_no_downtime():
    assert traffic.downtime([]) == (0.0, 0.0)


def test_all_ok_means_no_downtime():
    assert traffic.downtime([(0.0, False), (1.0, False), (2.0, False)]) == (0.0, 0.0)


def test_run_lasts_from_first_failure_to_next_success():
    events = [(0.0, False), (1.0, True), (1.5, True), (4.0, False), (5.0, False)]
    assert traffic.downtime(events) == (3.0, 3.0)


def test_runs_add_up_and_longest_is_kept():
    events = [(0, True), (1, False), (2, False), (3, True), (4, True), (7, False), (8, True), (8.5, False)]
    total, longest = traffic.downtime(events)
    assert total == pytest.approx(1 + 4 + 0.5)
    assert longest == pytest.approx(4)


def test_open_run_ends_at_last_request():
    assert traffic.downtime([(0, False), (2, True), (3, True), (6, True)]) == (4.0, 4.0)


def test_single_trailing_failure_counts_nothing():
    assert traffic.downtime([(0, False), (2, True)]) == (0.0, 0.0)


def test_events_are_ordered_by_time_first():
    ordered = [(0, False), (1, True), (2, True), (3, False)]
    assert traffic.downtime(list(reversed(ordered))) == traffic.downtime(ordered) == (2.0, 2.0)


@pytest.mark.parametrize(
    ("status", "failed"),
    [(200, False), (201, False), (401, False), (404, False), (500, True), (502, True),
     ("connection error", True), ("timeout", True)],
)
def test_what_counts_as_a_failure(status, failed):
    assert traffic.is_failure(status) is failed


def test_summary_figures():
    samples = [
        traffic.Sample(10.0, "list_chats", 200, 10.0),
        traffic.Sample(11.0, "post_message", 500, 20.0),
        traffic.Sample(12.0, "list_chats", "connection error", 1.0),
        traffic.Sample(13.5, "health", 200, 2.0),
    ]
    summary = traffic.summarize(samples, 9.0, 14.0, ["v1.2.3", "v1.2.4"])
    assert (summary["requests"], summary["ok"], summary["failed"]) == (4, 2, 2)
    assert summary["error_rate"] == 50.0
    assert summary["errors_by_kind"] == {"connection error": 1, "http 500": 1}
    assert summary["unavailable_seconds"] == 2.5
    assert summary["longest_outage_seconds"] == 2.5
    assert summary["p95_ms"] == 20.0
    assert summary["versions_seen"] == ["v1.2.3", "v1.2.4"]


def test_percentile_is_nearest_rank():
    assert traffic.percentile([], 95) == 0.0
    assert traffic.percentile(list(range(1, 101)), 95) == 95
    assert traffic.percentile([5.0], 50) == 5.0


@pytest.mark.parametrize("url", ["http://127.0.0.1:18080", "http://localhost:1/", "http://[::1]:8080"])
def test_loopback_urls_are_accepted(url):
    assert traffic.check_url(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://10.0.0.1:80", "http://example.com", "https://127.0.0.1", "ftp://localhost"])
def test_other_hosts_are_refused(url):
    with pytest.raises(ValueError, match="refusing"):
        traffic.check_url(url)


def sample(t, status=200, latency_ms=10.0):
    return {"t": t, "flow": "login", "status": status, "latency_ms": latency_ms}


def test_the_longest_wait_counts_a_held_request_until_its_answer():
    # Sent at 1.0, held by the proxy for 3.5 s, then answered: users waited from the answer at 0.51 to 4.5.
    samples = [sample(0.5), sample(1.0, latency_ms=3500), sample(4.6)]
    assert traffic.longest_wait(samples) == pytest.approx(3.99)


def test_the_longest_wait_skips_failed_answers():
    samples = [sample(0.0), sample(0.5, 503), sample(1.0, "connection error"), sample(2.0)]
    assert traffic.longest_wait(samples) == pytest.approx(2.0)
    # A status the caller does not count as failed is an answer.
    assert traffic.longest_wait(samples, lambda status: status == "connection error") == pytest.approx(1.5)


def test_an_outage_still_open_at_the_end_counts_until_the_last_sample():
    assert traffic.longest_wait([]) == 0.0
    assert traffic.longest_wait([sample(0.0), sample(1.0, 502), sample(3.0, "timeout", 5000)]) == pytest.approx(7.99)
    assert traffic.longest_wait([sample(2.0, 503), sample(4.0, 503, 0)]) == pytest.approx(2.0)
