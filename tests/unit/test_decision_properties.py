"""Properties of the rollback decision engine (module_utils/decision.py), checked with hypothesis.

Covered: monotonicity (making any one thing worse: a metric in one or every sample, disk free, Stripe, a signal,
a service's health, down time or failed checks never lowers the priority, and never loses a rule that fired),
determinism and purity (same input, same result; inputs not modified; the summary is one line), and fuzzed
bad input that may only ever raise DecisionInputError with a one-line message.
"""

import copy
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.runbook.rollback.plugins.module_utils.decision import (
    DEFAULT_THRESHOLDS,
    SIGNALS,
    DecisionInputError,
    evaluate,
)

RANK = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
T0 = 1_700_000_000

PERCENT = (
    "error_rate",
    "critical_error_rate",
    "cpu_percent",
    "memory_percent",
    "email_failure_rate",
    "openai_failure_rate",
)
LATENCY = ("p95_ms", "p50_ms", "db_query_ms")
WORSE_UP = (*PERCENT, *LATENCY, "db_connections_used")
ALL_METRICS = (*WORSE_UP, "disk_free_percent", "db_connections_max", "stripe_ok")

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# Levels near the rules' lines, so that small changes cross them often.
LINES = {
    "percent": [0, 0.49, 0.5, 1, 1.01, 2, 2.01, 5, 5.01, 10, 10.01, 20, 20.01, 50, 50.01, 90, 90.01, 100],
    "disk_free_percent": [0, 1, 4.99, 5, 5.01, 10, 50, 100],
    "latency": [100, 149, 150, 200, 201, 300, 301, 400, 401, 500, 501, 1000, 1001, 2000, 3000],
    "db_connections_used": [0, 49, 50, 99, 100, 101],
    "db_connections_max": [50, 100],
}
JITTER = st.sampled_from([0, 0, 0, 0, 0.01, -0.01, 1, -1, 10, -10])


def family(metric):
    if metric in PERCENT:
        return "percent"
    if metric in LATENCY:
        return "latency"
    return metric


def clamp(metric, value):
    value = max(0.0, value)
    return min(100.0, value) if family(metric) in ("percent", "disk_free_percent") else value


@st.composite
def samples_strategy(draw, require=()):
    span = draw(st.sampled_from([0, 60, 299, 300, 600, 1200, 1800]))
    count = draw(st.integers(1, 8))
    offsets = sorted({0, span, *draw(st.lists(st.integers(0, span), min_size=count - 1, max_size=count - 1))})
    present = draw(st.sets(st.sampled_from(ALL_METRICS), min_size=1)) | set(require)
    # Each metric hovers around one level, so that windowed rules ("X for W") do fire.
    levels = {}
    for metric in present:
        if metric == "stripe_ok":
            levels[metric] = draw(st.booleans())
        else:
            top = 100 if family(metric) in ("percent", "disk_free_percent") else 5000
            levels[metric] = draw(st.one_of(st.sampled_from(LINES[family(metric)]), st.floats(0, top)))
    samples = []
    for offset in offsets:
        sample = {"ts": T0 + offset}
        for metric in sorted(present):
            if draw(st.integers(0, 11)) == 0:
                continue  # a gap: the sample lacks the metric
            if metric == "stripe_ok":
                sample[metric] = levels[metric] if draw(st.integers(0, 3)) else not levels[metric]
            elif metric == "db_connections_max":
                sample[metric] = levels[metric]
            else:
                sample[metric] = clamp(metric, levels[metric] + draw(JITTER))
        samples.append(sample)
    return samples


@st.composite
def services_strategy(draw, min_size=0):
    names = draw(
        st.lists(
            st.sampled_from(["postgres", "auth", "chat", "api", "search"]), unique=True, min_size=min_size, max_size=4
        )
    )
    return [
        {
            "name": name,
            "critical": draw(st.booleans()),
            "healthy": draw(st.booleans()),
            "down_seconds": draw(st.one_of(st.sampled_from([0, 300, 301, 900, 901]), st.integers(0, 3000))),
            "failed_checks": draw(st.integers(0, 4)),
        }
        for name in names
    ]


baseline_strategy = st.dictionaries(st.sampled_from(LATENCY), st.sampled_from([100, 200]))
signals_strategy = st.dictionaries(st.sampled_from(sorted(SIGNALS)), st.booleans(), max_size=4)
context_strategy = st.fixed_dictionaries(
    {},
    optional={
        "quick_fix_minutes": st.one_of(st.none(), st.sampled_from([0, 4.9, 5, 30])),
        "isolated_non_critical": st.booleans(),
        "schema_changed": st.booleans(),
        "investigation_minutes": st.one_of(st.none(), st.sampled_from([0, 30, 31, 120])),
    },
)
thresholds_strategy = st.one_of(
    st.just({}),
    st.just({}),
    st.fixed_dictionaries({"window_scale": st.sampled_from([0.1, 0.5, 2])}),
)


@st.composite
def inputs(draw, metric=None, services_min=0):
    require = {metric} if metric else set()
    if metric == "db_connections_used":
        require.add("db_connections_max")
    baseline = draw(baseline_strategy)
    if metric in LATENCY and draw(st.integers(0, 5)):
        baseline.setdefault(metric, 100)
    return {
        "samples": draw(samples_strategy(require)),
        "baseline": baseline,
        "services": draw(services_strategy(services_min)),
        "signals": draw(signals_strategy),
        "context": draw(context_strategy),
        "thresholds": draw(thresholds_strategy),
    }


SAMPLE_KINDS = [*WORSE_UP, "disk_free_percent", "stripe_ok"]
SERVICE_KINDS = ["unhealthy", "down_seconds", "failed_checks"]
AMOUNT = st.one_of(st.sampled_from([0.01, 1, 5, 10, 100, 1000]), st.floats(0.001, 1000))


def worsen(draw, kwargs, kind):
    """A copy of kwargs with one thing (`kind`) made worse, and a description of what."""
    new = copy.deepcopy(kwargs)
    samples, services = new["samples"], new["services"]
    if kind == "signal":
        name = draw(st.sampled_from(sorted(SIGNALS)))
        new["signals"][name] = True
        return new, "signal %s" % name
    if kind in SAMPLE_KINDS:
        holders = [i for i, sample in enumerate(samples) if kind in sample]
        if not holders:
            return new, "nothing (no sample has %s)" % kind
        where = draw(st.sampled_from(["latest", "one", "all"]))
        chosen = {"latest": holders[-1:], "one": [draw(st.sampled_from(holders))], "all": holders}[where]
        amount = draw(AMOUNT)
        for i in chosen:
            if kind == "stripe_ok":
                samples[i][kind] = False
            elif kind == "disk_free_percent":
                samples[i][kind] = clamp(kind, samples[i][kind] - amount)
            else:
                samples[i][kind] = clamp(kind, samples[i][kind] + amount)
        return new, "%s worse by %r in samples %s" % (kind, amount, chosen)
    target = draw(st.sampled_from(services))
    if kind == "unhealthy":
        target["healthy"] = False
    elif kind == "down_seconds":
        target["down_seconds"] += draw(st.one_of(st.sampled_from([1, 60, 600, 3600]), st.integers(1, 5000)))
    else:
        target["failed_checks"] += draw(st.integers(1, 3))
    return new, "%s %s" % (kind, target["name"])


def rule_ranks(result):
    ranks = {}
    for trig in result["triggers"]:
        ranks[trig["id"]] = max(ranks.get(trig["id"], 0), RANK[trig["priority"]])
    return ranks


@pytest.mark.parametrize("kind", [*SAMPLE_KINDS, "signal", *SERVICE_KINDS])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_making_anything_worse_never_lowers_the_priority(kind, data):
    """One kind of change at a time, applied a few times in a row, each step checked."""
    kwargs = data.draw(
        inputs(metric=kind if kind in SAMPLE_KINDS else None, services_min=1 if kind in SERVICE_KINDS else 0)
    )
    before = evaluate(**copy.deepcopy(kwargs))
    steps = []
    for _unused in range(data.draw(st.integers(1, 4))):
        kwargs, what = worsen(data.draw, kwargs, kind)
        steps.append(what)
        after = evaluate(**copy.deepcopy(kwargs))
        note = "%s: %s -> %s\n%s\n%s" % (steps, before["priority"], after["priority"], before["triggers"],
                                         after["triggers"])  # fmt: skip
        assert RANK[after["priority"]] >= RANK[before["priority"]], note
        # Stronger: every rule that fired still fires, at no lower priority (the matrix bands may only go up).
        old, new = rule_ranks(before), rule_ranks(after)
        for rule_id, rank in old.items():
            assert new.get(rule_id, -1) >= rank, "lost %s\n%s" % (rule_id, note)
        before = after


@SETTINGS
@given(kwargs=inputs(), data=st.data())
def test_raising_an_error_rate_everywhere_reaches_critical(kwargs, data):
    """Not vacuous: the generated inputs do reach the top. An error rate over 10% in every sample of a
    history reaching back 5 minutes is critical whatever else is going on."""
    kwargs["thresholds"] = {}
    span = kwargs["samples"][-1]["ts"] - kwargs["samples"][0]["ts"]
    for sample in kwargs["samples"]:
        sample["error_rate"] = data.draw(st.floats(10.01, 100))
    result = evaluate(**kwargs)
    if span >= 300:
        assert result["priority"] == "critical"
        assert "error_rate_critical" in [t["id"] for t in result["triggers"]]
    else:
        assert "error_rate_critical" in result["insufficient_history"]


@SETTINGS
@given(kwargs=inputs())
def test_deterministic_pure_and_well_formed(kwargs):
    pristine = copy.deepcopy(kwargs)
    first = evaluate(**kwargs)
    assert kwargs == pristine  # no side effects on the caller's data
    second = evaluate(**copy.deepcopy(kwargs))
    assert first == second
    assert first["priority"] in RANK
    assert first["priority"] == max((t["priority"] for t in first["triggers"]), key=RANK.get, default="none")
    assert first["decision"] in ("rollback_now", "rollback", "investigate", "fix_forward", "none")
    assert first["max_downtime_minutes"] in (5, 15, 30, None)
    assert first["procedure"] in ("A", "B", "C", "D", None)
    assert (first["procedure"] is not None) == (first["decision"] in ("rollback_now", "rollback"))
    assert (first["service"] is not None) == (first["procedure"] == "C")
    assert (first["without_blockers"] is not None) == bool(first["blockers"])
    assert not set(first["no_data"]) & {t["id"] for t in first["triggers"]}
    assert not set(first["insufficient_history"]) & {t["id"] for t in first["triggers"]}
    assert isinstance(first["summary"], str) and len(first["summary"].splitlines()) == 1


# --------------------------------------------------------------------------- fuzzed bad input

KEYS = st.one_of(
    st.sampled_from(["ts", "name", "healthy", "critical", "down_seconds", "failed_checks", *ALL_METRICS]),
    st.sampled_from(sorted(SIGNALS) + sorted(DEFAULT_THRESHOLDS)),
    st.sampled_from(["quick_fix_minutes", "isolated_non_critical", "schema_changed", "investigation_minutes"]),
    st.text(max_size=8),
    st.integers(-3, 3),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.sampled_from([10**400, -(10**400), 2**63, 0, 100, 101]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
ANY = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
SAMPLE_LIKE = st.dictionaries(KEYS, SCALARS, max_size=5).map(lambda d: {"ts": T0, **d})


@settings(max_examples=150, deadline=None)
@given(
    samples=st.one_of(ANY, st.lists(SAMPLE_LIKE, max_size=4)),
    baseline=st.one_of(ANY, st.dictionaries(KEYS, SCALARS, max_size=3)),
    services=st.one_of(ANY, st.lists(st.dictionaries(KEYS, SCALARS, max_size=5), max_size=3)),
    signals=st.one_of(ANY, st.dictionaries(KEYS, SCALARS, max_size=3)),
    context=st.one_of(ANY, st.dictionaries(KEYS, SCALARS, max_size=3)),
    thresholds=st.one_of(ANY, st.dictionaries(KEYS, SCALARS, max_size=3)),
)
def test_bad_input_only_raises_decision_input_error(samples, baseline, services, signals, context, thresholds):
    try:
        result = evaluate(samples, baseline, services, signals, context, thresholds)
    except DecisionInputError as err:
        message = str(err)
        assert message and len(message.splitlines()) == 1, message
        return
    assert result["priority"] in RANK
    assert len(result["summary"].splitlines()) == 1


@settings(max_examples=100, deadline=None)
@given(kwargs=inputs(), data=st.data())
def test_one_bad_field_in_good_input_is_rejected(kwargs, data):
    """Valid input with one field corrupted is refused, never half-evaluated."""
    where = data.draw(st.sampled_from(["sample", "service", "signal", "threshold", "baseline"]))
    if where == "sample":
        sample = data.draw(st.sampled_from(kwargs["samples"]))
        key = data.draw(st.sampled_from(ALL_METRICS))
        bad = (
            st.sampled_from(["yes", 1, 0])
            if key == "stripe_ok"
            else st.one_of(st.floats(max_value=-0.001), st.just(math.nan), st.just("1"), st.just(True))
        )
        if key in (*PERCENT, "disk_free_percent"):
            bad = st.one_of(bad, st.floats(100.001, 1e9))
        sample[key] = data.draw(bad)
    elif where == "service":
        key = data.draw(st.sampled_from(["down_seconds", "failed_checks"]))
        kwargs["services"].append({"name": "x", key: data.draw(st.sampled_from([-1, "", False, "3", math.inf]))})
    elif where == "signal":
        kwargs["signals"][data.draw(st.sampled_from(sorted(SIGNALS)))] = data.draw(st.sampled_from(["true", 1, 0]))
    elif where == "threshold":
        kwargs["thresholds"] = {data.draw(st.sampled_from(sorted(DEFAULT_THRESHOLDS))): -1}
    else:
        kwargs["baseline"][data.draw(st.sampled_from(LATENCY))] = data.draw(st.sampled_from([0, -1, "100"]))
    try:
        evaluate(**kwargs)
    except DecisionInputError as err:
        assert len(str(err).splitlines()) == 1
    else:
        raise AssertionError("accepted a corrupted %s: %r" % (where, kwargs))
