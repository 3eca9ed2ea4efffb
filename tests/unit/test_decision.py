"""The rollback decision engine (module_utils/decision.py) against its public contract.

Covered: every "When to Rollback" rule on both sides of its line (above-the-line sample rules,
service rules, disk, DB connections, Stripe, every signal), the decision matrix's bands at each edge,
"X for W" windows (reach back exactly W, short history, a sample below the line inside the window, a sample
outside it, a sample lacking the metric), window_scale (windows scale, thresholds do not), missing data
(`no_data`), priority = highest match, decision/max downtime per priority, the 30-minute investigation
escalation, procedure choice (D > B > C > A), blockers and `without_blockers`, threshold overrides,
the one-line summary and bad input (DecisionInputError with a one-line message).
"""

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.decision import (
    DecisionInputError,
    evaluate,
)

T0 = 1_700_000_000
RANK = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
BASELINE = {"p95_ms": 200, "p50_ms": 100, "db_query_ms": 20}


def held(metric, value, seconds, step=None, **extra):
    """Samples holding `value` from T0 to T0 + seconds (one sample when seconds is 0)."""
    if not seconds:
        return [{"ts": T0, metric: value, **extra}]
    step = step or seconds / 5
    count = round(seconds / step)
    return [{"ts": T0 + i * step, metric: value, **extra} for i in range(count + 1)]


def ids(result):
    return [trig["id"] for trig in result["triggers"]]


def trigger(result, rule_id):
    found = [trig for trig in result["triggers"] if trig["id"] == rule_id]
    assert len(found) <= 1, found
    return found[0] if found else None


def svc(name, healthy=True, critical=False, down_seconds=0, failed_checks=0):
    return {
        "name": name,
        "healthy": healthy,
        "critical": critical,
        "down_seconds": down_seconds,
        "failed_checks": failed_checks,
    }


HEALTHY = [svc("postgres", critical=True), svc("api-gateway", critical=True)]


# --------------------------------------------------------------------------- "greater than" sample rules

# rule id, priority, metric, baseline value (the line is a factor of it) or None, the line, window (s)
ABOVE = [
    ("error_rate_critical", "critical", "error_rate", None, 10, 300),
    ("error_rate_elevated", "critical", "error_rate", None, 5, 600),
    ("critical_endpoint_errors", "critical", "critical_error_rate", None, 1, 0),
    ("p95_critical", "critical", "p95_ms", 200, 1000, 600),
    ("p50_critical", "critical", "p50_ms", 100, 300, 600),
    ("db_query_critical", "critical", "db_query_ms", 20, 200, 0),
    ("error_rate_high", "high", "error_rate", None, 2, 1200),
    ("p95_high", "high", "p95_ms", 200, 400, 1200),
    ("email_failures", "high", "email_failure_rate", None, 50, 0),
    ("openai_failures", "high", "openai_failure_rate", None, 20, 0),
    ("memory_sustained", "high", "memory_percent", None, 90, 600),
    ("cpu_sustained", "high", "cpu_percent", None, 90, 600),
]
WINDOWED = [rule for rule in ABOVE if rule[5]]


@pytest.mark.parametrize(
    ("rule_id", "priority", "metric", "line", "window", "delta", "fires"),
    [
        pytest.param(rule_id, priority, metric, line, window, delta, fires, id="%s-%s" % (rule_id, name))
        for rule_id, priority, metric, _unused, line, window in ABOVE
        for name, delta, fires in (("at-line", 0, False), ("just-above", 0.01, True), ("below", -0.01, False))
    ],
)
def test_above_rule_boundary(rule_id, priority, metric, line, window, delta, fires):
    result = evaluate(samples=held(metric, line + delta, window), baseline=BASELINE)
    found = trigger(result, rule_id)
    if not fires:
        assert found is None
        return
    assert found is not None, result["triggers"]
    assert found["priority"] == priority
    assert isinstance(found["category"], str) and found["category"]
    assert isinstance(found["message"], str) and "\n" not in found["message"]
    assert RANK[result["priority"]] >= RANK[priority]
    assert rule_id not in result["no_data"]


@pytest.mark.parametrize(
    ("rule_id", "metric", "line", "window"),
    [pytest.param(r[0], r[2], r[4], r[5], id=r[0]) for r in WINDOWED],
)
def test_windowed_rule_needs_history_reaching_back_the_whole_window(rule_id, metric, line, window):
    short = evaluate(samples=held(metric, line + 1, window - 1, step=(window - 1) / 5), baseline=BASELINE)
    assert trigger(short, rule_id) is None
    assert rule_id in short["insufficient_history"]
    assert rule_id not in short["no_data"]

    enough = evaluate(samples=held(metric, line + 1, window), baseline=BASELINE)
    assert trigger(enough, rule_id) is not None
    assert rule_id not in enough["insufficient_history"]


@pytest.mark.parametrize(
    ("rule_id", "metric", "line", "window"),
    [pytest.param(r[0], r[2], r[4], r[5], id=r[0]) for r in WINDOWED],
)
def test_windowed_rule_broken_by_one_sample_at_the_line(rule_id, metric, line, window):
    samples = held(metric, line + 1, window)
    samples[2][metric] = line
    assert trigger(evaluate(samples=samples, baseline=BASELINE), rule_id) is None


@pytest.mark.parametrize(
    ("rule_id", "metric", "line", "window"),
    [pytest.param(r[0], r[2], r[4], r[5], id=r[0]) for r in WINDOWED],
)
def test_windowed_rule_broken_by_a_sample_without_the_metric(rule_id, metric, line, window):
    samples = held(metric, line + 1, window)
    del samples[2][metric]
    samples[2]["disk_free_percent"] = 50
    result = evaluate(samples=samples, baseline=BASELINE)
    assert trigger(result, rule_id) is None
    assert rule_id not in result["no_data"]  # the latest sample has the metric


# --------------------------------------------------------------------------- windows in detail (error > 10% for 5 min)


def error_samples(points):
    """[(seconds before the latest sample, error rate)] -> samples."""
    latest = T0 + 10_000
    return [{"ts": latest - back, "error_rate": value} for back, value in points]


@pytest.mark.parametrize(
    ("points", "fires"),
    [
        pytest.param([(300, 11), (150, 11), (0, 11)], True, id="reaches-back-exactly-w"),
        pytest.param([(299, 11), (150, 11), (0, 11)], False, id="reaches-back-w-minus-1s"),
        pytest.param([(600, 1), (301, 1), (300, 11), (0, 11)], True, id="low-samples-before-the-window-ignored"),
        pytest.param([(301, 1), (0, 11)], True, id="one-sample-inside-window-is-enough"),
        pytest.param([(600, 11), (300, 9), (0, 11)], False, id="low-sample-at-window-start-is-inside"),
        pytest.param([(300, 11), (1, 10), (0, 11)], False, id="sample-at-the-line-inside"),
        pytest.param([(300, 11), (150, 11), (0, 10)], False, id="latest-at-the-line"),
    ],
)
def test_window_edges(points, fires):
    result = evaluate(samples=error_samples(points))
    assert (trigger(result, "error_rate_critical") is not None) is fires


def test_short_history_is_listed_and_not_triggered():
    result = evaluate(samples=error_samples([(299, 50), (0, 50)]))
    assert "error_rate_critical" in result["insufficient_history"]
    assert "error_rate_elevated" in result["insufficient_history"]
    assert "error_rate_high" in result["insufficient_history"]
    assert "matrix_error_rate" in result["insufficient_history"]
    assert not {"error_rate_critical", "error_rate_elevated", "error_rate_high", "matrix_error_rate"} & set(ids(result))
    assert result["priority"] == "none"


def test_long_enough_history_only_fires_the_windows_it_covers():
    result = evaluate(samples=error_samples([(600, 50), (0, 50)]))
    assert {"error_rate_critical", "error_rate_elevated", "matrix_error_rate"} <= set(ids(result))
    assert "error_rate_high" not in ids(result)
    assert result["insufficient_history"] == ["error_rate_high"]


# --------------------------------------------------------------------------- window_scale


def test_window_scale_turns_minutes_into_seconds_not_thresholds():
    drill = {"window_scale": 1 / 60}
    fires = evaluate(samples=held("error_rate", 10.01, 5, step=1), thresholds=drill)
    assert trigger(fires, "error_rate_critical") is not None
    assert fires["thresholds"]["error_rate_critical_window"] == 5
    assert fires["thresholds"]["error_rate_elevated_window"] == 10
    assert fires["thresholds"]["error_rate_critical"] == 10
    assert fires["thresholds"]["matrix_window"] == 5

    short = evaluate(samples=held("error_rate", 10.01, 4, step=1), thresholds=drill)
    assert trigger(short, "error_rate_critical") is None
    assert "error_rate_critical" in short["insufficient_history"]

    at_line = evaluate(samples=held("error_rate", 10, 5, step=1), thresholds=drill)
    assert trigger(at_line, "error_rate_critical") is None


@pytest.mark.parametrize(
    ("scale", "seconds", "rule_id"),
    [
        pytest.param(0.07, 21, "error_rate_critical", id="300s-x-0.07"),  # 21.000000000000004 in floats
        pytest.param(0.41, 123, "error_rate_critical", id="300s-x-0.41"),  # 122.99999999999999 in floats
        pytest.param(0.1, 60, "error_rate_elevated", id="600s-x-0.1"),
    ],
)
def test_window_scale_edge_is_exact(scale, seconds, rule_id):
    """W x scale is the exact window: history reaching back exactly that far covers it."""
    result = evaluate(samples=held("error_rate", 10.01, seconds, step=3), thresholds={"window_scale": scale})
    assert trigger(result, rule_id) is not None
    assert rule_id not in result["insufficient_history"]
    assert result["thresholds"][rule_id + "_window"] == seconds
    # Small timestamps, where float noise in the window would show.
    early = [dict(sample, ts=sample["ts"] - T0) for sample in held("error_rate", 10.01, seconds, step=3)]
    assert trigger(evaluate(samples=early, thresholds={"window_scale": scale}), rule_id) is not None


def test_window_scale_lengthens_windows():
    scale = {"window_scale": 2}
    assert trigger(evaluate(samples=held("error_rate", 11, 300), thresholds=scale), "error_rate_critical") is None
    assert trigger(evaluate(samples=held("error_rate", 11, 600), thresholds=scale), "error_rate_critical")


def test_window_scale_applies_to_overridden_windows():
    result = evaluate(thresholds={"error_rate_critical_window": 120, "window_scale": 0.5})
    assert result["thresholds"]["error_rate_critical_window"] == 60


@pytest.mark.parametrize(
    ("down_seconds", "fires"), [pytest.param(5, False, id="5s"), pytest.param(5.5, True, id="5.5s")]
)
def test_window_scale_applies_to_service_down_durations(down_seconds, fires):
    # A drill stops a service for seconds: "down > 5 min" becomes "down > 5 s" at 1/60.
    services = [svc("chat-service", healthy=False, critical=True, down_seconds=down_seconds), *HEALTHY]
    result = evaluate(services=services, thresholds={"window_scale": 1 / 60})
    assert (trigger(result, "critical_service_down") is not None) is fires


# --------------------------------------------------------------------------- missing data

SAMPLE_RULES = {
    "error_rate_critical",
    "error_rate_elevated",
    "critical_endpoint_errors",
    "p95_critical",
    "p50_critical",
    "db_query_critical",
    "error_rate_high",
    "p95_high",
    "email_failures",
    "openai_failures",
    "memory_sustained",
    "cpu_sustained",
    "stripe_broken",
    "disk_low",
    "db_connections_exhausted",
    "matrix_error_rate",
    "matrix_p95",
}
SERVICE_RULES = {"critical_service_down", "health_checks_failing", "complete_outage", "non_critical_service_down"}


def test_nothing_given_is_no_data_for_every_rule():
    result = evaluate()
    assert set(result["no_data"]) == SAMPLE_RULES | SERVICE_RULES
    assert result["priority"] == "none"
    assert result["decision"] == "none"
    assert result["triggers"] == []


def test_no_services_puts_service_rules_in_no_data():
    result = evaluate(samples=held("error_rate", 0, 0))
    assert SERVICE_RULES <= set(result["no_data"])
    with_services = evaluate(samples=held("error_rate", 0, 0), services=HEALTHY)
    assert not SERVICE_RULES & set(with_services["no_data"])


@pytest.mark.parametrize(
    ("baseline", "missing"),
    [
        pytest.param({"p50_ms": 100, "db_query_ms": 20}, {"p95_critical", "p95_high", "matrix_p95"}, id="no-p95"),
        pytest.param({"p95_ms": 200, "db_query_ms": 20}, {"p50_critical"}, id="no-p50"),
        pytest.param({"p95_ms": 200, "p50_ms": 100}, {"db_query_critical"}, id="no-db-query"),
        pytest.param({"p95_ms": 200, "p50_ms": 100, "db_query_ms": None}, {"db_query_critical"}, id="null-baseline"),
    ],
)
def test_no_baseline_is_no_data_even_for_huge_values(baseline, missing):
    samples = held("p95_ms", 1e6, 1200, p50_ms=1e6, db_query_ms=1e6)
    result = evaluate(samples=samples, baseline=baseline)
    assert missing <= set(result["no_data"])
    assert not missing & set(ids(result))
    baselined = {"p95_critical", "p95_high", "matrix_p95", "p50_critical", "db_query_critical"} - missing
    assert baselined <= set(ids(result))


@pytest.mark.parametrize(
    ("metric", "value", "rules"),
    [
        pytest.param("error_rate", 50, {"error_rate_critical", "error_rate_high", "matrix_error_rate"}, id="error"),
        pytest.param("critical_error_rate", 50, {"critical_endpoint_errors"}, id="critical-error"),
        pytest.param("p95_ms", 1e5, {"p95_critical", "p95_high", "matrix_p95"}, id="p95"),
        pytest.param("p50_ms", 1e5, {"p50_critical"}, id="p50"),
        pytest.param("db_query_ms", 1e5, {"db_query_critical"}, id="db-query"),
        pytest.param("email_failure_rate", 100, {"email_failures"}, id="email"),
        pytest.param("openai_failure_rate", 100, {"openai_failures"}, id="openai"),
        pytest.param("memory_percent", 100, {"memory_sustained"}, id="memory"),
        pytest.param("cpu_percent", 100, {"cpu_sustained"}, id="cpu"),
        pytest.param("disk_free_percent", 0, {"disk_low"}, id="disk"),
        pytest.param("stripe_ok", False, {"stripe_broken"}, id="stripe"),
        pytest.param("db_connections_used", 100, {"db_connections_exhausted"}, id="db-connections"),
    ],
)
def test_metric_absent_from_latest_sample_never_triggers(metric, value, rules):
    older = held(metric, value, 1800, db_connections_max=100)
    # Without the metric in the latest sample, the bad history does not count.
    samples = [*older, {"ts": older[-1]["ts"] + 60, "db_connections_max": 100}]
    result = evaluate(samples=samples, baseline=BASELINE)
    assert rules <= set(result["no_data"])
    assert not rules & set(ids(result))
    assert result["priority"] == "none"
    # The same history with the latest sample carrying the metric does trigger (the test can fail).
    samples[-1][metric] = value
    assert rules <= set(ids(evaluate(samples=samples, baseline=BASELINE)))


def test_db_connections_need_both_numbers():
    result = evaluate(samples=[{"ts": T0, "db_connections_used": 100}])
    assert "db_connections_exhausted" in result["no_data"]
    result = evaluate(samples=[{"ts": T0, "db_connections_max": 100}])
    assert "db_connections_exhausted" in result["no_data"]


def test_null_metric_counts_as_absent():
    result = evaluate(samples=[{"ts": T0, "email_failure_rate": None}])
    assert "email_failures" in result["no_data"]


# --------------------------------------------------------------------------- other single-sample rules


@pytest.mark.parametrize(
    ("sample", "rule_id", "fires"),
    [
        pytest.param({"disk_free_percent": 5}, "disk_low", False, id="disk-5"),
        pytest.param({"disk_free_percent": 4.99}, "disk_low", True, id="disk-4.99"),
        pytest.param({"disk_free_percent": 0}, "disk_low", True, id="disk-0"),
        pytest.param({"db_connections_used": 99, "db_connections_max": 100}, "db_connections_exhausted", False,
                     id="db-99-of-100"),
        pytest.param({"db_connections_used": 100, "db_connections_max": 100}, "db_connections_exhausted", True,
                     id="db-100-of-100"),
        pytest.param({"db_connections_used": 101, "db_connections_max": 100}, "db_connections_exhausted", True,
                     id="db-over-max"),
        pytest.param({"stripe_ok": True}, "stripe_broken", False, id="stripe-ok"),
        pytest.param({"stripe_ok": False}, "stripe_broken", True, id="stripe-broken"),
    ],
)  # fmt: skip
def test_single_sample_high_rules(sample, rule_id, fires):
    result = evaluate(samples=[{"ts": T0, **sample}])
    found = trigger(result, rule_id)
    if fires:
        assert found is not None and found["priority"] == "high"
        assert result["priority"] == "high"
        assert result["decision"] == "rollback"
    else:
        assert found is None
        assert result["priority"] == "none"
    assert rule_id not in result["no_data"]


def test_single_sample_rule_uses_only_the_latest_sample():
    samples = [{"ts": T0, "disk_free_percent": 1}, {"ts": T0 + 60, "disk_free_percent": 50}]
    assert trigger(evaluate(samples=samples), "disk_low") is None
    samples[0]["disk_free_percent"], samples[1]["disk_free_percent"] = 50, 1
    assert trigger(evaluate(samples=samples), "disk_low") is not None


# --------------------------------------------------------------------------- service rules


@pytest.mark.parametrize(
    ("subject", "rule_id", "priority"),
    [
        pytest.param(svc("auth", healthy=False, critical=True, down_seconds=300), "critical_service_down", None,
                     id="critical-down-300s"),
        pytest.param(svc("auth", healthy=False, critical=True, down_seconds=301), "critical_service_down", "critical",
                     id="critical-down-301s"),
        pytest.param(svc("auth", healthy=True, critical=True, down_seconds=3600), "critical_service_down", None,
                     id="critical-healthy-ignores-down-seconds"),
        pytest.param(svc("search", healthy=False, down_seconds=301), "critical_service_down", None,
                     id="non-critical-down-301s-is-not-critical-rule"),
        pytest.param(svc("search", healthy=False, down_seconds=900), "non_critical_service_down", None,
                     id="non-critical-down-900s"),
        pytest.param(svc("search", healthy=False, down_seconds=901), "non_critical_service_down", "high",
                     id="non-critical-down-901s"),
        pytest.param(svc("auth", healthy=False, critical=True, down_seconds=901), "non_critical_service_down", None,
                     id="critical-down-is-not-non-critical-rule"),
        pytest.param(svc("auth", critical=True, failed_checks=2), "health_checks_failing", None, id="failed-checks-2"),
        pytest.param(svc("auth", critical=True, failed_checks=3), "health_checks_failing", "critical",
                     id="failed-checks-3"),
        pytest.param(svc("auth", healthy=False, critical=True, failed_checks=3), "health_checks_failing", "critical",
                     id="failed-checks-3-unhealthy"),
        # A non-critical service failing its checks is the runbook's "non-critical service down": high after 15 min.
        pytest.param(svc("search", healthy=False, failed_checks=3, down_seconds=900), "health_checks_failing", None,
                     id="non-critical-failed-checks-3-is-not-critical"),
        pytest.param(svc("search", healthy=False, failed_checks=30, down_seconds=901), "non_critical_service_down",
                     "high", id="non-critical-failed-checks-down-901s-is-high"),
    ],
)  # fmt: skip
def test_service_rules(subject, rule_id, priority):
    result = evaluate(services=[subject, *HEALTHY])
    found = trigger(result, rule_id)
    if priority is None:
        assert found is None
    else:
        assert found is not None and found["priority"] == priority
        assert result["priority"] == priority
    assert "complete_outage" not in ids(result)


@pytest.mark.parametrize(
    ("services", "outage"),
    [
        pytest.param([svc("a", healthy=False)], True, id="only-service-unhealthy"),
        pytest.param([svc("a", healthy=False), svc("b", healthy=False)], True, id="all-unhealthy"),
        pytest.param([svc("a", healthy=False), svc("b")], False, id="one-of-two"),
        pytest.param([svc("a"), svc("b")], False, id="all-healthy"),
    ],
)
def test_complete_outage(services, outage):
    result = evaluate(services=services)
    assert ("complete_outage" in ids(result)) is outage
    if outage:
        assert result["priority"] == "critical"
        assert result["decision"] == "rollback_now"


def test_every_failing_service_gets_its_own_trigger():
    result = evaluate(services=[svc("a", critical=True, failed_checks=3), svc("b", critical=True, failed_checks=5),
                                svc("c")])
    assert ids(result).count("health_checks_failing") == 2


# --------------------------------------------------------------------------- the decision matrix's bands


@pytest.mark.parametrize(
    ("error_rate", "band"),
    [
        pytest.param(0, None, id="0"),
        pytest.param(0.49, None, id="0.49-none"),
        pytest.param(0.5, "low", id="0.5-low"),
        pytest.param(2, "low", id="2-low"),
        pytest.param(2.01, "medium", id="2.01-medium"),
        pytest.param(5, "medium", id="5-medium"),
        pytest.param(5.01, "high", id="5.01-high"),
        pytest.param(10, "high", id="10-high"),
        pytest.param(10.01, "critical", id="10.01-critical"),
    ],
)
def test_matrix_error_rate_bands(error_rate, band):
    # Exactly the matrix's 5 minutes of history: longer windowed rules cannot fire, the band decides.
    result = evaluate(samples=held("error_rate", error_rate, 300))
    found = trigger(result, "matrix_error_rate")
    assert (found["priority"] if found else None) == band
    assert result["priority"] == (band or "none")


@pytest.mark.parametrize(
    ("p95_ms", "band"),
    [
        pytest.param(149, None, id="1.49x-none"),
        pytest.param(150, "low", id="1.5x-low"),
        pytest.param(200, "low", id="2x-low"),
        pytest.param(201, "medium", id="2.01x-medium"),
        pytest.param(300, "medium", id="3x-medium"),
        pytest.param(301, "high", id="3.01x-high"),
        pytest.param(500, "high", id="5x-high"),
        pytest.param(501, "critical", id="5.01x-critical"),
    ],
)
def test_matrix_p95_bands(p95_ms, band):
    result = evaluate(samples=held("p95_ms", p95_ms, 300), baseline={"p95_ms": 100})
    found = trigger(result, "matrix_p95")
    assert (found["priority"] if found else None) == band
    assert result["priority"] == (band or "none")


def test_matrix_band_is_where_the_whole_window_sits():
    samples = held("error_rate", 12, 300)
    samples[2]["error_rate"] = 3
    assert trigger(evaluate(samples=samples), "matrix_error_rate")["priority"] == "medium"


def test_matrix_band_needs_the_5_minute_window():
    result = evaluate(samples=held("error_rate", 12, 299, step=299 / 5))
    assert "matrix_error_rate" in result["insufficient_history"]
    assert result["priority"] == "none"


def test_matrix_band_low_alone_is_fix_forward():
    result = evaluate(samples=held("error_rate", 0.5, 300))
    assert (result["priority"], result["decision"], result["max_downtime_minutes"]) == ("low", "fix_forward", None)
    assert result["procedure"] is None


# --------------------------------------------------------------------------- signals

SPEC_SIGNALS = {
    "data_corruption": "critical",
    "incorrect_billing": "critical",
    "tenant_data_mixing": "critical",
    "migration_data_loss": "critical",
    "security_breach": "critical",
    "vulnerability_exploited": "critical",
    "unauthorized_access": "critical",
    "auth_bypass": "critical",
    "login_broken": "critical",
    "signup_broken": "critical",
    "payment_failing": "critical",
    "chat_broken": "critical",
    "data_loss_on_save": "critical",
    "logs_missing": "high",
    "metrics_missing": "high",
    "alerts_not_firing": "high",
    "new_feature_broken": "medium",
    "ui_rendering_issue": "medium",
    "analytics_inconsistent": "medium",
    "config_issue": "medium",
    "feature_flag_misconfigured": "medium",
    "cache_misconfigured": "medium",
    "slow_queries": "medium",
}
SHUTDOWN = {
    "security_breach",
    "vulnerability_exploited",
    "unauthorized_access",
    "auth_bypass",
    "tenant_data_mixing",
    "data_corruption",
}


@pytest.mark.parametrize(("name", "priority"), [pytest.param(n, p, id=n) for n, p in SPEC_SIGNALS.items()])
def test_signal_priority(name, priority):
    result = evaluate(signals={name: True})
    assert ids(result) == [name]
    assert result["triggers"][0]["priority"] == priority
    assert result["priority"] == priority
    assert evaluate(signals={name: False})["priority"] == "none"


def test_every_spec_signal_is_accepted_at_once():
    result = evaluate(signals=dict.fromkeys(SPEC_SIGNALS, True))
    assert sorted(ids(result)) == sorted(SPEC_SIGNALS)
    assert result["priority"] == "critical"


# --------------------------------------------------------------------------- priority and decision

REPRESENTATIVE = {
    "critical": {"signals": {"login_broken": True}},
    "high": {"signals": {"logs_missing": True}},
    "medium": {"signals": {"config_issue": True}},
    "low": {"samples": held("error_rate", 0.5, 300)},
    "none": {"samples": held("error_rate", 0.1, 300)},
}


@pytest.mark.parametrize(
    ("priority", "decision", "downtime"),
    [
        pytest.param("critical", "rollback_now", 5, id="critical"),
        pytest.param("high", "rollback", 15, id="high"),
        pytest.param("medium", "investigate", 30, id="medium"),
        pytest.param("low", "fix_forward", None, id="low"),
        pytest.param("none", "none", None, id="none"),
    ],
)
def test_decision_matrix(priority, decision, downtime):
    result = evaluate(**REPRESENTATIVE[priority])
    assert result["priority"] == priority
    assert result["decision"] == decision
    assert result["max_downtime_minutes"] == downtime
    assert result["procedure"] == ("A" if decision.startswith("rollback") else None)
    assert result["blockers"] == []
    assert result["without_blockers"] is None
    assert result["escalated"] is False


def test_priority_is_the_highest_matched():
    result = evaluate(
        samples=held("error_rate", 2.5, 300),  # matrix: medium
        signals={"config_issue": True, "logs_missing": True},  # medium, high
        services=[svc("search", healthy=False, down_seconds=100), *HEALTHY],  # nothing yet
    )
    assert result["priority"] == "high"
    assert ids(result)[0] == "logs_missing"
    ranks = [RANK[t["priority"]] for t in result["triggers"]]
    assert ranks == sorted(ranks, reverse=True)
    assert {"matrix_error_rate", "config_issue", "logs_missing"} == set(ids(result))


@pytest.mark.parametrize(
    ("minutes", "decision", "escalated"),
    [
        pytest.param(None, "investigate", False, id="not-investigating"),
        pytest.param(0, "investigate", False, id="0-min"),
        pytest.param(30, "investigate", False, id="30-min"),
        pytest.param(30.01, "rollback", True, id="30.01-min"),
        pytest.param(120, "rollback", True, id="120-min"),
    ],
)
def test_medium_under_investigation_for_more_than_30_minutes_is_rolled_back(minutes, decision, escalated):
    result = evaluate(signals={"slow_queries": True}, context={"investigation_minutes": minutes})
    assert result["priority"] == "medium"
    assert result["decision"] == decision
    assert result["escalated"] is escalated
    assert result["procedure"] == ("A" if escalated else None)


@pytest.mark.parametrize(
    ("priority", "decision"),
    [
        pytest.param("critical", "rollback_now", id="critical"),
        pytest.param("high", "rollback", id="high"),
        pytest.param("low", "fix_forward", id="low"),
        pytest.param("none", "none", id="none"),
    ],
)
def test_investigation_time_only_escalates_medium(priority, decision):
    result = evaluate(**REPRESENTATIVE[priority], context={"investigation_minutes": 600})
    assert result["decision"] == decision
    assert result["escalated"] is False


# --------------------------------------------------------------------------- procedure


@pytest.mark.parametrize("name", sorted(SHUTDOWN))
def test_shutdown_signals_choose_procedure_d(name):
    result = evaluate(signals={name: True})
    assert (result["decision"], result["procedure"], result["service"]) == ("rollback_now", "D", None)


@pytest.mark.parametrize("name", sorted(n for n, p in SPEC_SIGNALS.items() if p == "critical" and n not in SHUTDOWN))
def test_other_critical_signals_do_not_choose_d(name):
    result = evaluate(signals={name: True})
    assert result["decision"] == "rollback_now"
    assert result["procedure"] == ("B" if name == "migration_data_loss" else "A")


@pytest.mark.parametrize(
    ("kwargs", "procedure", "service"),
    [
        pytest.param({"signals": {"logs_missing": True}}, "A", None, id="plain-high-A"),
        pytest.param({"signals": {"logs_missing": True}, "context": {"schema_changed": True}}, "B", None,
                     id="schema-changed-B"),
        pytest.param({"signals": {"migration_data_loss": True}}, "B", None, id="migration-data-loss-B"),
        pytest.param({"services": [svc("chat-service", healthy=False, down_seconds=901), *HEALTHY]}, "C",
                     "chat-service", id="one-unhealthy-of-three-C"),
        pytest.param({"services": [svc("chat-service", healthy=False, critical=True, failed_checks=3),
                                   svc("postgres")]}, "C", "chat-service", id="one-unhealthy-of-two-C"),
        pytest.param({"services": [svc("chat-service", healthy=True, critical=True, failed_checks=3), *HEALTHY]}, "A",
                     None,
                     id="failing-checks-but-healthy-A"),
        pytest.param({"services": [svc("a", healthy=False, down_seconds=901), svc("b", healthy=False), svc("c")]},
                     "A", None, id="two-unhealthy-A"),
        pytest.param({"services": [svc("a", healthy=False)]}, "A", None, id="only-service-down-is-outage-A"),
        pytest.param({"services": [svc("a", healthy=False), svc("b", healthy=False)]}, "A", None,
                     id="complete-outage-A"),
        pytest.param({"signals": {"logs_missing": True}, "services": [svc("a", healthy=False), svc("b")]}, "C", "a",
                     id="C-whatever-triggered"),
        pytest.param({"signals": {"auth_bypass": True}, "context": {"schema_changed": True},
                      "services": [svc("a", healthy=False, down_seconds=901), svc("b")]}, "D", None,
                     id="D-beats-B-and-C"),
        pytest.param({"signals": {"auth_bypass": True, "migration_data_loss": True}}, "D", None, id="D-beats-B"),
        pytest.param({"context": {"schema_changed": True},
                      "services": [svc("a", healthy=False, down_seconds=901), svc("b")]}, "B", None,
                     id="B-beats-C"),
    ],
)  # fmt: skip
def test_procedure(kwargs, procedure, service):
    result = evaluate(**kwargs)
    assert result["decision"] in ("rollback_now", "rollback")
    assert (result["procedure"], result["service"]) == (procedure, service)


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"signals": {"config_issue": True}, "context": {"schema_changed": True}}, id="investigate"),
        pytest.param({"samples": held("error_rate", 1, 300), "services": [svc("a", healthy=False), svc("b")]},
                     id="fix-forward"),
        pytest.param({"context": {"schema_changed": True}}, id="none"),
    ],
)  # fmt: skip
def test_no_procedure_without_a_rollback(kwargs):
    result = evaluate(**kwargs)
    assert result["decision"] not in ("rollback_now", "rollback")
    assert (result["procedure"], result["service"]) == (None, None)


# --------------------------------------------------------------------------- blockers


@pytest.mark.parametrize(
    ("kwargs", "context", "blocked"),
    [
        pytest.param(REPRESENTATIVE["high"], {"quick_fix_minutes": 4.9}, True, id="high-quick-fix-4.9"),
        # The runbook rolls back when the fix would take longer than the matrix's downtime (high: 15, critical: 5).
        pytest.param(REPRESENTATIVE["high"], {"quick_fix_minutes": 5}, True, id="high-fix-5-fits-15"),
        pytest.param(REPRESENTATIVE["high"], {"quick_fix_minutes": 15}, True, id="high-fix-15-fits-15"),
        pytest.param(REPRESENTATIVE["high"], {"quick_fix_minutes": 15.1}, False, id="high-fix-15.1-over-15"),
        pytest.param(REPRESENTATIVE["critical"], {"quick_fix_minutes": 5}, True, id="critical-fix-5-fits-5"),
        pytest.param(REPRESENTATIVE["critical"], {"quick_fix_minutes": 5.1}, False, id="critical-fix-5.1-over-5"),
        pytest.param(REPRESENTATIVE["high"], {"quick_fix_minutes": 0}, True, id="high-quick-fix-0"),
        pytest.param(REPRESENTATIVE["high"], {"quick_fix_minutes": None}, False, id="high-no-quick-fix"),
        pytest.param(REPRESENTATIVE["critical"], {"quick_fix_minutes": 4.9}, True, id="critical-quick-fix-4.9"),
        pytest.param(REPRESENTATIVE["high"], {"isolated_non_critical": True}, True, id="high-isolated"),
        pytest.param(REPRESENTATIVE["critical"], {"isolated_non_critical": True}, False, id="critical-isolated"),
        pytest.param(REPRESENTATIVE["high"], {"isolated_non_critical": False}, False, id="high-not-isolated"),
        pytest.param(REPRESENTATIVE["high"], {"schema_changed": True}, False, id="schema-change-is-no-blocker"),
        pytest.param({"signals": {"security_breach": True}}, {"quick_fix_minutes": 1}, False, id="D-quick-fix"),
        pytest.param({"signals": {"logs_missing": True, "data_corruption": True}},
                     {"quick_fix_minutes": 1, "isolated_non_critical": True}, False, id="D-both"),
    ],
)  # fmt: skip
def test_blockers(kwargs, context, blocked):
    unblocked = evaluate(**kwargs)
    assert unblocked["decision"] in ("rollback_now", "rollback")
    result = evaluate(**kwargs, context=context)
    assert result["priority"] == unblocked["priority"]
    if not blocked:
        assert result["blockers"] == []
        assert result["without_blockers"] is None
        assert result["decision"] == unblocked["decision"]
        assert result["max_downtime_minutes"] == unblocked["max_downtime_minutes"]
        return
    assert result["blockers"] and all(isinstance(b, str) and b for b in result["blockers"])
    assert result["decision"] == "fix_forward"
    assert (result["procedure"], result["service"], result["max_downtime_minutes"]) == (None, None, None)
    assert result["without_blockers"] == {
        "decision": unblocked["decision"],
        "procedure": unblocked["procedure"],
        "service": unblocked["service"],
        "max_downtime_minutes": unblocked["max_downtime_minutes"],
    }


def test_both_blockers_are_listed():
    result = evaluate(signals={"logs_missing": True}, context={"quick_fix_minutes": 2, "isolated_non_critical": True})
    assert len(result["blockers"]) == 2


def test_blocked_procedure_c_keeps_the_service_in_without_blockers():
    services = [svc("chat-service", healthy=False, down_seconds=901), *HEALTHY]
    result = evaluate(services=services, context={"quick_fix_minutes": 3})
    assert result["decision"] == "fix_forward"
    assert result["without_blockers"] == {
        "decision": "rollback",
        "procedure": "C",
        "service": "chat-service",
        "max_downtime_minutes": 15,
    }


def test_blocked_migration_data_loss_keeps_b():
    result = evaluate(signals={"migration_data_loss": True}, context={"quick_fix_minutes": 1})
    assert result["decision"] == "fix_forward"
    assert result["without_blockers"]["procedure"] == "B"


def test_escalated_medium_can_be_blocked():
    result = evaluate(
        signals={"new_feature_broken": True},
        context={"investigation_minutes": 45, "isolated_non_critical": True},
    )
    assert result["escalated"] is True
    assert result["decision"] == "fix_forward"
    assert result["without_blockers"]["decision"] == "rollback"


def test_blockers_do_not_change_a_decision_that_is_no_rollback():
    result = evaluate(signals={"config_issue": True}, context={"quick_fix_minutes": 1, "isolated_non_critical": True})
    assert result["decision"] == "investigate"
    assert result["max_downtime_minutes"] == 30


# --------------------------------------------------------------------------- threshold overrides


@pytest.mark.parametrize(
    ("kwargs", "thresholds", "rule_id", "before", "after"),
    [
        pytest.param({"samples": held("error_rate", 15, 300)}, {"error_rate_critical": 20}, "error_rate_critical",
                     True, False, id="raise-error-line"),
        pytest.param({"samples": held("error_rate", 8, 300)}, {"error_rate_critical": 7.5}, "error_rate_critical",
                     False, True, id="lower-error-line"),
        pytest.param({"samples": held("error_rate", 11, 120)}, {"error_rate_critical_window": 120},
                     "error_rate_critical", False, True, id="shorter-window"),
        pytest.param({"services": [svc("a", critical=True, failed_checks=3)]}, {"failed_checks": 5},
                     "health_checks_failing", True, False, id="failed-checks-5"),
        pytest.param({"samples": [{"ts": T0, "disk_free_percent": 8}]}, {"disk_free_percent": 10}, "disk_low", False,
                     True, id="disk-10"),
        pytest.param({"samples": held("p95_ms", 450, 1200), "baseline": {"p95_ms": 100}}, {"p95_critical_factor": 4},
                     "p95_critical", False, True, id="p95-factor-4"),
        pytest.param({"services": [svc("a", healthy=False, critical=True, down_seconds=200), svc("b")]},
                     {"critical_service_down_seconds": 120}, "critical_service_down", False, True,
                     id="critical-down-2min"),
        pytest.param({"samples": [{"ts": T0, "email_failure_rate": 30}]}, {"email_failure_rate": 25},
                     "email_failures", False, True, id="email-25"),
    ],
)  # fmt: skip
def test_threshold_overrides(kwargs, thresholds, rule_id, before, after):
    assert (trigger(evaluate(**kwargs), rule_id) is not None) is before
    result = evaluate(**kwargs, thresholds=thresholds)
    assert (trigger(result, rule_id) is not None) is after
    for key, value in thresholds.items():
        assert result["thresholds"][key] == value


def test_matrix_band_override():
    samples = held("error_rate", 1, 300)
    assert evaluate(samples=samples)["priority"] == "low"
    assert evaluate(samples=samples, thresholds={"matrix_error_rate_low": 1.5})["priority"] == "none"
    assert evaluate(samples=samples, thresholds={"matrix_error_rate_medium": 0.9})["priority"] == "medium"


def test_decision_point_overrides():
    # A fix longer than any allowed downtime (high: 15 min, an escalated medium: 30), so only the thresholds decide.
    context = {"quick_fix_minutes": 31, "investigation_minutes": 45}
    assert evaluate(signals={"logs_missing": True}, context=context)["decision"] == "rollback"
    blocked = evaluate(signals={"logs_missing": True}, context=context, thresholds={"quick_fix_minutes": 40})
    assert blocked["decision"] == "fix_forward"
    assert evaluate(signals={"config_issue": True}, context=context)["decision"] == "rollback"
    waits = evaluate(signals={"config_issue": True}, context=context, thresholds={"investigation_minutes": 60})
    assert waits["decision"] == "investigate"


def test_null_override_keeps_the_default():
    result = evaluate(samples=held("error_rate", 10.01, 300), thresholds={"error_rate_critical": None})
    assert trigger(result, "error_rate_critical") is not None
    assert result["thresholds"]["error_rate_critical"] == 10


# --------------------------------------------------------------------------- summary

SUMMARY_HEAD = {
    "critical": "critical: roll back now",
    "high": "high: roll back with Procedure A",
    "medium": "medium: investigate",
    "low": "low: fix forward",
    "none": "none",
}


@pytest.mark.parametrize("priority", list(SUMMARY_HEAD))
def test_summary_is_one_line_naming_the_decision(priority):
    result = evaluate(**REPRESENTATIVE[priority])
    summary = result["summary"]
    assert isinstance(summary, str)
    assert len(summary.splitlines()) == 1
    assert summary.startswith(SUMMARY_HEAD[priority])


def test_summary_names_service_blockers_and_escalation():
    services = [svc("chat-service", healthy=False, down_seconds=901), *HEALTHY]
    assert "Procedure C (chat-service)" in evaluate(services=services)["summary"]
    blocked = evaluate(services=services, context={"quick_fix_minutes": 2})["summary"]
    assert blocked.startswith("high: fix forward")
    assert "quick fix" in blocked
    escalated = evaluate(signals={"slow_queries": True}, context={"investigation_minutes": 40})["summary"]
    assert escalated.startswith("medium: roll back")


def test_summary_stays_one_line_with_odd_service_names():
    services = [svc("chat\nservice", healthy=False, critical=True, down_seconds=400), *HEALTHY]
    result = evaluate(services=services)
    assert result["priority"] == "critical"
    assert len(result["summary"].splitlines()) == 1


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"signals": {"login_brokn": True}}, "login_brokn", id="unknown-signal"),
        pytest.param({"signals": {"login_broken": "yes"}}, "login_broken", id="signal-not-bool"),
        pytest.param({"signals": ["login_broken"]}, "signals", id="signals-not-dict"),
        pytest.param({"samples": [{"ts": T0, "errors": 1}]}, "errors", id="unknown-sample-key"),
        pytest.param({"samples": [{"ts": T0, "error_rate": "5"}]}, "error_rate", id="non-numeric"),
        pytest.param({"samples": [{"ts": T0, "error_rate": True}]}, "error_rate", id="bool-as-number"),
        pytest.param({"samples": [{"ts": T0, "p95_ms": float("nan")}]}, "p95_ms", id="nan"),
        pytest.param({"samples": [{"ts": T0, "p95_ms": float("inf")}]}, "p95_ms", id="inf"),
        pytest.param({"samples": [{"ts": T0, "error_rate": 100.01}]}, "error_rate", id="percent-over-100"),
        pytest.param({"samples": [{"ts": T0, "disk_free_percent": 101}]}, "disk_free_percent", id="disk-over-100"),
        pytest.param({"samples": [{"ts": T0, "cpu_percent": -1}]}, "cpu_percent", id="negative-percent"),
        pytest.param({"samples": [{"ts": T0, "p95_ms": -0.5}]}, "p95_ms", id="negative-latency"),
        pytest.param({"samples": [{"ts": T0, "stripe_ok": "false"}]}, "stripe_ok", id="stripe-not-bool"),
        pytest.param({"samples": [{"error_rate": 1}]}, "ts", id="no-ts"),
        pytest.param({"samples": [{"ts": "yesterday"}]}, "ts", id="ts-not-number"),
        pytest.param({"samples": ["error_rate=1"]}, "samples", id="sample-not-dict"),
        pytest.param({"samples": {"ts": T0}}, "samples", id="samples-not-list"),
        pytest.param({"thresholds": {"window_scale": 0}}, "window_scale", id="window-scale-0"),
        pytest.param({"thresholds": {"window_scale": -1}}, "window_scale", id="window-scale-negative"),
        pytest.param({"thresholds": {"error_rate_critcal": 5}}, "error_rate_critcal", id="unknown-threshold"),
        pytest.param({"thresholds": {"error_rate_critical": -1}}, "error_rate_critical", id="negative-threshold"),
        pytest.param({"thresholds": {"error_rate_critical": "10"}}, "error_rate_critical", id="threshold-string"),
        pytest.param({"services": [{"name": "a", "down_seconds": -5}]}, "down_seconds", id="negative-down"),
        pytest.param({"services": [{"name": "a", "failed_checks": -1}]}, "failed_checks", id="negative-checks"),
        pytest.param({"services": [{"name": "a", "down_seconds": "5m"}]}, "down_seconds", id="down-string"),
        pytest.param({"services": [{"name": "a", "down_seconds": ""}]}, "down_seconds", id="down-empty-string"),
        pytest.param({"services": [{"name": "a", "failed_checks": False}]}, "failed_checks", id="checks-false"),
        pytest.param({"samples": [{"ts": 10**400}]}, "ts", id="ts-too-large"),
        pytest.param({"samples": [{"ts": T0, "p95_ms": 10**400}]}, "p95_ms", id="int-too-large"),
        pytest.param({"services": [{"name": "a", "down_seconds": 10**400}]}, "down_seconds", id="down-too-large"),
        pytest.param({"thresholds": {"failed_checks": 10**400}}, "failed_checks", id="threshold-too-large"),
        pytest.param({"thresholds": {1: 5, "x": 1}}, "unknown threshold", id="unknown-keys-of-mixed-types"),
        pytest.param({"services": [{"name": "a", "healthy": "no"}]}, "healthy", id="healthy-not-bool"),
        pytest.param({"services": [{"name": "a", "critical": 1}]}, "critical", id="critical-not-bool"),
        pytest.param({"services": [{"healthy": False}]}, "name", id="service-without-name"),
        pytest.param({"services": [{"name": "a", "status": "down"}]}, "status", id="unknown-service-key"),
        pytest.param({"services": [{"name": "a"}, {"name": "a"}]}, "twice", id="duplicate-service"),
        pytest.param({"baseline": {"p95_ms": 0}}, "p95_ms", id="baseline-zero"),
        pytest.param({"baseline": {"p95_ms": -100}}, "p95_ms", id="baseline-negative"),
        pytest.param({"baseline": {"p99_ms": 100}}, "p99_ms", id="unknown-baseline"),
        pytest.param({"context": {"quick_fix_minutes": -1}}, "quick_fix_minutes", id="negative-quick-fix"),
        pytest.param({"context": {"investigation_minutes": "45"}}, "investigation_minutes",
                     id="investigation-string"),
        pytest.param({"context": {"schema_changed": "yes"}}, "schema_changed", id="schema-not-bool"),
        pytest.param({"context": {"rollback": True}}, "rollback", id="unknown-context"),
    ],
)  # fmt: skip
def test_bad_input(kwargs, match):
    with pytest.raises(DecisionInputError, match=match) as err:
        evaluate(**kwargs)
    message = str(err.value)
    assert message and len(message.splitlines()) == 1


@pytest.mark.parametrize(
    "sample",
    [
        pytest.param({"error_rate": 100, "disk_free_percent": 100, "cpu_percent": 0}, id="percent-edges"),
        pytest.param({"p95_ms": 0, "db_connections_used": 0, "db_connections_max": 0}, id="zeros"),
        pytest.param({"error_rate": None}, id="null-metric"),
        pytest.param({}, id="ts-only"),
    ],
)
def test_valid_edge_values_are_accepted(sample):
    result = evaluate(samples=[{"ts": T0, **sample}])
    assert result["priority"] in RANK


def test_one_line_error_for_odd_names():
    with pytest.raises(DecisionInputError) as err:
        evaluate(services=[{"name": "a\nb"}, {"name": "a\nb"}])
    assert len(str(err.value).splitlines()) == 1
    with pytest.raises(DecisionInputError) as err:
        evaluate(signals={"login\nbroken": True})
    assert len(str(err.value).splitlines()) == 1
