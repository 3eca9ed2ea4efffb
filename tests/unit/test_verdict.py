"""The verification's verdict (module_utils/verdict.py, the filters verify_checks and verify_verdict): each
check's figure, limit and judgement as an operator reads them in the verification report."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.filter.verify import FilterModule

FILTERS = FilterModule().filters()
HEALTHY = {"healthy": True, "summary": "9 of 9 endpoints healthy"}
METRICS = {"error_rate_url": "http://gw/metrics/error-rate", "p95_url": "http://gw/metrics/p95",
           "max_error_rate": 1.0, "max_p95_ms": 500, "min_requests_for_p95": 20}  # fmt: skip
WATCH = {"seconds": 900, "max_error_rate": 1.0, "sustained": 300}


def uri(body):
    """A uri result: the endpoint's JSON, or the failure of an endpoint that did not answer."""
    return {"status": 200, "json": body} if body is not None else {"status": -1, "msg": "Connection refused"}


def checks(**gathered):
    base = {"containers": {"problems": [], "count": 9}, "health": HEALTHY, "smoke": None, "metrics": None,
            "stability": None}  # fmt: skip
    return {c["name"]: (c["ok"], c["detail"]) for c in FILTERS["verify_checks"](dict(base, **gathered))}


def test_a_healthy_stack_with_nothing_else_checked_passes_and_says_what_was_skipped():
    found = FILTERS["verify_checks"]({"containers": {"problems": [], "count": 9}, "health": HEALTHY,
                                      "smoke": None, "metrics": None, "stability": None})  # fmt: skip
    assert [c["name"] for c in found] == ["containers", "health", "smoke", "error rate", "p95", "stability",
                                          "database", "logs"]  # fmt: skip
    assert found[0] == {"name": "containers", "ok": True, "detail": "9 services running and healthy"}
    assert [(c["ok"], c["detail"]) for c in found[2:]] == [(True, "skipped")] * 6
    assert FILTERS["verify_verdict"](found) == {"passed": True, "problems": []}


def test_failed_containers_health_and_smoke_each_name_their_problem():
    found = checks(containers={"problems": ["billing-service: exited (code 1)", "redis: no container"], "count": 9},
                   health={"healthy": False, "summary": "auth-service: HTTP 503"},
                   smoke={"passed": False, "summary": "login: HTTP 500"})  # fmt: skip
    assert found["containers"] == (False, "billing-service: exited (code 1), redis: no container")
    assert found["health"] == (False, "auth-service: HTTP 503")
    assert found["smoke"] == (False, "login: HTTP 500")
    verdict = FILTERS["verify_verdict"](FILTERS["verify_checks"]({
        "containers": {"problems": ["redis: no container"], "count": 9}, "health": HEALTHY, "smoke": None,
        "metrics": None, "stability": None}))  # fmt: skip
    assert verdict == {"passed": False, "problems": ["containers: redis: no container"]}


@pytest.mark.parametrize(
    "rate, p95, expected_rate, expected_p95",
    [
        ({"rate": 0.25}, {"p95": 120.4, "requests": 300}, (True, "0.25 % (limit 1.0 %)"),
         (True, "120 ms (limit 500 ms)")),
        # At the limit is not below it.
        ({"rate": 1.0}, {"p95": 500, "requests": 300}, (False, "1.00 % (limit 1.0 %)"),
         (False, "500 ms (limit 500 ms)")),
        # Too few requests for a p95 to mean anything: reported, not judged.
        ({"rate": 0}, {"p95": 2300, "requests": 3}, (True, "0.00 % (limit 1.0 %)"),
         (True, "2300 ms (limit 500 ms), not judged: 3 requests in the window")),
        # No requests figure at all counts as none.
        ({"rate": 0}, {"p95": 2300}, (True, "0.00 % (limit 1.0 %)"),
         (True, "2300 ms (limit 500 ms), not judged: 0 requests in the window")),
        # Endpoints down, or answering something else: a failed check, never a zero.
        (None, None, (False, "unreadable from http://gw/metrics/error-rate"),
         (False, "unreadable from http://gw/metrics/p95")),
        ({"rate": "0.1"}, {"p95": True, "requests": 300}, (False, "unreadable from http://gw/metrics/error-rate"),
         (False, "unreadable from http://gw/metrics/p95")),
    ],
    ids=["within", "at the limits", "few requests", "no count", "unreachable", "not numbers"],
)
def test_the_error_rate_and_p95_against_their_limits(rate, p95, expected_rate, expected_p95):
    found = checks(metrics=dict(METRICS, error_rate=uri(rate), p95=uri(p95)))
    assert found["error rate"] == expected_rate
    assert found["p95"] == expected_p95


@pytest.mark.parametrize(
    "result, expected",
    [
        (None, (True, "not watched: an earlier check failed")),
        ({"stopped_early": True, "stop_observed": 4.2, "samples": [{"error_rate": 4.2}]},
         (False, "error rate at or above 1.0 % for 300 s (lowest 4.2 %)")),
        ({"stopped_early": False, "samples": [{"error_rate": 0.1}, {"ts": 1}, {"error_rate": 0.6}]},
         (True, "error rate never at or above 1.0 % for 300 s in 900 s (highest 0.6 %)")),
        ({"stopped_early": False, "samples": [{"ts": 1}]}, (True, "no error rate to watch over 900 s (no requests)")),
    ],
    ids=["not watched", "stopped early", "stable", "no traffic"],
)
def test_the_stability_watch(result, expected):
    assert checks(stability=dict(WATCH, result=result))["stability"] == expected


def test_a_watch_left_for_after_the_completion_is_said_so_and_judges_nothing_yet():
    found = checks(stability=dict(WATCH, result=None, later=True))
    assert found["stability"] == (True, "watched for 900 s once the team is told the rollback is complete")
    # No watch comes after a verification that failed.
    found = checks(stability=dict(WATCH, result=None, later=True), health={"healthy": False, "summary": "0/1"})
    assert found["stability"] == (True, "not watched: an earlier check failed")


def test_figures_the_app_does_not_publish_are_said_not_measured_and_judge_nothing():
    # A stack with health alone: no error-rate or response-time source set, so nothing was read from them.
    found = checks(metrics=dict(METRICS, error_rate_url="", p95_url="", error_rate={"skipped": True},
                                p95={"skipped": True}),
                   stability=dict(WATCH, error_rate_url="", result=None))  # fmt: skip
    assert found["error rate"] == (True, "not measured: no error-rate source set")
    assert found["p95"] == (True, "not measured: no response-time source set")
    assert found["stability"] == (True, "not watched: no error-rate source set")
    # One source set and down still fails its own check.
    found = checks(metrics=dict(METRICS, p95_url="", error_rate=uri(None), p95={"skipped": True}))
    assert found["error rate"] == (False, "unreadable from http://gw/metrics/error-rate")
    assert found["p95"] == (True, "not measured: no response-time source set")


def test_bad_input_is_one_line_naming_the_filter():
    with pytest.raises(AnsibleFilterError, match=r"^verify_checks: expected a dictionary"):
        FILTERS["verify_checks"]("containers")
    with pytest.raises(AnsibleFilterError, match=r"^verify_checks: "):
        checks(metrics={"error_rate_url": "http://gw/metrics/error-rate", "error_rate": uri({"rate": 1})})
    with pytest.raises(AnsibleFilterError, match=r"^verify_verdict: each check needs name, ok and detail"):
        FILTERS["verify_verdict"]([{"name": "health"}])


def watched(p95s, step=1.0):
    """A watch's result: one sample a second with these p95 values, the error rate low."""
    return {"samples": [{"ts": 100 + i * step, "error_rate": 0.1, "p95_ms": p} for i, p in enumerate(p95s)],
            "stopped_early": False}  # fmt: skip


P95_WATCH = dict(WATCH, sustained=3, seconds=6, max_p95_ms=750.0, p95_baseline_ms=500)


@pytest.mark.parametrize(
    "p95s, ok",
    [
        ([900, 900, 900, 900], False),  # above for the whole last 3 s
        ([900, 900, 700, 900], True),  # 700 in the last 3 s: it came back below the limit once
        ([100, 900, 900, 900, 900], False),  # came back up: the last 3 s are all above
        ([900, 900, 900, 750], True),  # at the limit is not above
        ([900, 900, 900], True),  # 2 s of samples do not cover 3 s
        ([200, 210, 190, 205], True),
    ],
)
def test_the_watch_judges_the_p95_against_its_baseline(p95s, ok):
    got = checks(stability=dict(P95_WATCH, result=watched(p95s)))["stability"]
    assert got[0] is ok, got
    if not ok:
        assert got[1].startswith("p95 above 750 ms (500 ms normal) for 3 s (lowest 900 ms)"), got


def test_no_p95_baseline_judges_no_p95():
    assert checks(stability=dict(P95_WATCH, max_p95_ms=0, result=watched([5000] * 5)))["stability"][0] is True


@pytest.mark.parametrize(
    "result, expected",
    [
        (None, (True, "not read")),
        ({"failed": True, "msg": "docker compose logs: no such service: x"},
         (True, "not judged: docker compose logs: no such service: x")),
        ({"failed": False, "msg": "docker compose logs: no such service: x"},  # as failed_when: false leaves it
         (True, "not judged: docker compose logs: no such service: x")),
        ({"repeated": [], "summary": "120 lines, 3 errors, none said 20 times by one service"},
         (True, "120 lines, 3 errors, none said 20 times by one service")),
        ({"repeated": [{"service": "chat-service", "message": "m", "count": 40}],
          "summary": "chat-service said 'm' 40 times"}, (False, "chat-service said 'm' 40 times")),
    ],
)  # fmt: skip
def test_the_logs(result, expected):
    assert checks(logs={"result": result, "repeat_limit": 20})["logs"] == expected


COUNTED = {"row_counts": {"users": 5, "chats": 23}, "problems": [], "connections": {"used": 7, "max": 100}}


@pytest.mark.parametrize(
    "result, expected",
    [
        (COUNTED, (True, "chats 23, users 5; connections 7 of 100")),
        # The module's own problems: fewer rows than before the procedure, or a table gone.
        (dict(COUNTED, row_counts={"users": 4, "chats": None},
              problems=["users 4 (before: 5)", "chats missing (before: 23)"]),
         (False, "chats missing, users 4; users 4 (before: 5); chats missing (before: 23)")),
        # 90 of 100 is the limit; 89 is under it.
        (dict(COUNTED, connections={"used": 90, "max": 100}),
         (False, "chats 23, users 5; connections 90 of 100, at or above 90 % of the maximum")),
        (dict(COUNTED, connections={"used": 89, "max": 100}), (True, "chats 23, users 5; connections 89 of 100")),
        # A database the verification cannot read fails it.
        ({"failed": True, "msg": "counting rows in app failed: connection refused"},
         (False, "not readable: counting rows in app failed: connection refused")),
        ({"failed": False, "msg": "psql: timed out"}, (False, "not readable: psql: timed out")),
        (dict(COUNTED, connections={}), (True, "chats 23, users 5; connections not counted")),
    ],
)  # fmt: skip
def test_the_database(result, expected):
    assert checks(database={"result": result, "max_connections_share": 0.9})["database"] == expected
