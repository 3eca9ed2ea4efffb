# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's rollback decision: metrics, service states and reported conditions in, a decision out.

Pure functions only (no I/O), shared by the rollback_decision module and action plugin and unit-tested
directly. The rules follow the runbook's "When to Rollback" lists, its decision matrix and decision tree.

Semantics of a windowed rule "X for W":
  it holds when the samples reach back at least W seconds from the latest sample (the earliest sample is
  at or before latest.ts - W) and every sample with ts >= latest.ts - W satisfies X. A sample lacking the
  metric does not satisfy X. A rule with no window looks at the latest sample only. A rule whose metric is
  absent from the latest sample cannot be evaluated: it goes to `no_data` and never triggers. A windowed
  rule whose samples do not reach back far enough is not triggered and is listed in `insufficient_history`.
"""

from __future__ import annotations

import math

PRIORITIES = ("none", "low", "medium", "high", "critical")
RANK = {name: i for i, name in enumerate(PRIORITIES)}

DECISIONS = {
    "critical": ("rollback_now", 5),
    "high": ("rollback", 15),
    "medium": ("investigate", 30),
    "low": ("fix_forward", None),
    "none": ("none", None),
}
ROLLBACK_DECISIONS = ("rollback_now", "rollback")

PERCENT_METRICS = (
    "error_rate",
    "critical_error_rate",
    "cpu_percent",
    "memory_percent",
    "disk_free_percent",
    "email_failure_rate",
    "openai_failure_rate",
)
NUMBER_METRICS = ("p95_ms", "p50_ms", "db_query_ms", "db_connections_used", "db_connections_max")
BOOL_METRICS = ("stripe_ok",)
SAMPLE_METRICS = PERCENT_METRICS + NUMBER_METRICS + BOOL_METRICS
BASELINE_KEYS = ("p95_ms", "p50_ms", "db_query_ms")

# Non-metric conditions: name -> (priority, category). Someone (or some monitor) reports them.
SIGNALS = {
    "data_corruption": ("critical", "data_integrity"),
    "incorrect_billing": ("critical", "data_integrity"),
    "tenant_data_mixing": ("critical", "data_integrity"),
    "migration_data_loss": ("critical", "data_integrity"),
    "security_breach": ("critical", "security"),
    "vulnerability_exploited": ("critical", "security"),
    "unauthorized_access": ("critical", "security"),
    "auth_bypass": ("critical", "security"),
    "login_broken": ("critical", "user_flows"),
    "signup_broken": ("critical", "user_flows"),
    "payment_failing": ("critical", "user_flows"),
    "chat_broken": ("critical", "user_flows"),
    "data_loss_on_save": ("critical", "user_flows"),
    "logs_missing": ("high", "observability"),
    "metrics_missing": ("high", "observability"),
    "alerts_not_firing": ("high", "observability"),
    "new_feature_broken": ("medium", "features"),
    "ui_rendering_issue": ("medium", "features"),
    "analytics_inconsistent": ("medium", "features"),
    "config_issue": ("medium", "configuration"),
    "feature_flag_misconfigured": ("medium", "configuration"),
    "cache_misconfigured": ("medium", "configuration"),
    "slow_queries": ("medium", "performance"),
}
SIGNAL_TEXT = {
    "data_corruption": "data corruption detected",
    "incorrect_billing": "incorrect billing calculations",
    "tenant_data_mixing": "user data mixing between tenants",
    "migration_data_loss": "database migration lost data",
    "security_breach": "active security breach",
    "vulnerability_exploited": "critical vulnerability exploited",
    "unauthorized_access": "unauthorized access to user data",
    "auth_bypass": "authentication bypass",
    "login_broken": "login not working",
    "signup_broken": "signup not working",
    "payment_failing": "payment processing failing",
    "chat_broken": "chat/messaging broken",
    "data_loss_on_save": "data lost on save",
    "logs_missing": "logs not being collected",
    "metrics_missing": "metrics not being reported",
    "alerts_not_firing": "alerts not firing",
    "new_feature_broken": "new feature not working (old features OK)",
    "ui_rendering_issue": "UI rendering issue (non-blocking)",
    "analytics_inconsistent": "analytics data inconsistent",
    "config_issue": "incorrect environment variable (non-critical)",
    "feature_flag_misconfigured": "feature flag misconfigured",
    "cache_misconfigured": "cache configuration issue",
    "slow_queries": "slow queries (not blocking)",
}
# Conditions where every minute of running does more damage: Procedure D (shut down) first.
SHUTDOWN_SIGNALS = (
    "security_breach",
    "vulnerability_exploited",
    "unauthorized_access",
    "auth_bypass",
    "tenant_data_mixing",
    "data_corruption",
)

CONTEXT_KEYS = ("quick_fix_minutes", "isolated_non_critical", "schema_changed", "investigation_minutes")

# Every threshold and window (seconds). `window_scale` multiplies every *_window and *_seconds value.
DEFAULT_THRESHOLDS = {
    # Critical
    "critical_service_down_seconds": 300,
    "failed_checks": 3,
    "error_rate_critical": 10.0,
    "error_rate_critical_window": 300,
    "error_rate_elevated": 5.0,
    "error_rate_elevated_window": 600,
    "critical_error_rate": 1.0,
    "p95_critical_factor": 5.0,
    "p95_critical_window": 600,
    "p50_critical_factor": 3.0,
    "p50_critical_window": 600,
    "db_query_critical_factor": 10.0,
    # High
    "non_critical_service_down_seconds": 900,
    "error_rate_high": 2.0,
    "error_rate_high_window": 1200,
    "p95_high_factor": 2.0,
    "p95_high_window": 1200,
    "email_failure_rate": 50.0,
    "openai_failure_rate": 20.0,
    "memory_percent": 90.0,
    "cpu_percent": 90.0,
    "resource_window": 600,
    "disk_free_percent": 5.0,
    # The decision matrix's bands (critical, high, medium are "greater than", low is "at least").
    "matrix_window": 300,
    "matrix_error_rate_critical": 10.0,
    "matrix_error_rate_high": 5.0,
    "matrix_error_rate_medium": 2.0,
    "matrix_error_rate_low": 0.5,
    "matrix_p95_critical": 5.0,
    "matrix_p95_high": 3.0,
    "matrix_p95_medium": 2.0,
    "matrix_p95_low": 1.5,
    # Decision point
    "quick_fix_minutes": 5.0,
    "investigation_minutes": 30.0,
    "window_scale": 1.0,
}
SCALED = tuple(k for k in DEFAULT_THRESHOLDS if k.endswith("_window") or k.endswith("_seconds"))


class DecisionInputError(ValueError):
    """Input that cannot be evaluated; the message is one line, fit for a task failure."""

    def __init__(self, message):
        # Names from the input (service names, unknown keys) may hold line breaks.
        super().__init__(" ".join(str(message).splitlines()))


# --------------------------------------------------------------------------- input checks


def _is_number(value):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _unknown(kind, given, allowed):
    extra = sorted(set(given) - set(allowed), key=str)  # keys of mixed types (YAML allows 1: true) sort too
    if extra:
        raise DecisionInputError(
            "unknown %s %s; allowed: %s" % (kind, ", ".join(map(str, extra)), ", ".join(sorted(allowed)))
        )


def normalize_samples(samples):
    if samples is None:
        return []
    if not isinstance(samples, list):
        raise DecisionInputError("samples must be a list of dictionaries")
    out = []
    for i, sample in enumerate(samples):
        if not isinstance(sample, dict):
            raise DecisionInputError("samples[%d] is not a dictionary" % i)
        _unknown("key in samples[%d]:" % i, sample, ("ts",) + SAMPLE_METRICS)
        if not _is_number(sample.get("ts")):
            raise DecisionInputError("samples[%d] needs ts, in epoch seconds" % i)
        clean = {"ts": float(sample["ts"])}
        for key, value in sample.items():
            if key == "ts" or value is None:
                continue
            if key in BOOL_METRICS:
                if not isinstance(value, bool):
                    raise DecisionInputError("samples[%d].%s must be true or false, got %r" % (i, key, value))
            elif not _is_number(value) or value < 0:
                raise DecisionInputError("samples[%d].%s must be a number >= 0, got %r" % (i, key, value))
            elif key in PERCENT_METRICS and value > 100:
                raise DecisionInputError("samples[%d].%s is a percentage (0-100), got %r" % (i, key, value))
            clean[key] = value
        out.append(clean)
    # Stable sort: callers should pass time order, but a merge of sources may not.
    out.sort(key=lambda s: s["ts"])
    return out


def normalize_services(services):
    if services is None:
        return []
    if not isinstance(services, list):
        raise DecisionInputError("services must be a list of dictionaries")
    out, seen = [], set()
    for i, svc in enumerate(services):
        if not isinstance(svc, dict) or not isinstance(svc.get("name"), str) or not svc["name"]:
            raise DecisionInputError("services[%d] needs a name" % i)
        _unknown("key in services[%d]:" % i, svc, ("name", "critical", "healthy", "down_seconds", "failed_checks"))
        if svc["name"] in seen:
            raise DecisionInputError("service %s is listed twice" % svc["name"])
        seen.add(svc["name"])
        clean = {
            "name": svc["name"],
            "critical": svc.get("critical", False),
            "healthy": svc.get("healthy", True),
            "down_seconds": 0 if svc.get("down_seconds") is None else svc["down_seconds"],
            "failed_checks": 0 if svc.get("failed_checks") is None else svc["failed_checks"],
        }
        for key in ("critical", "healthy"):
            if not isinstance(clean[key], bool):
                raise DecisionInputError("services[%d].%s must be true or false" % (i, key))
        for key in ("down_seconds", "failed_checks"):
            if not _is_number(clean[key]) or clean[key] < 0:
                raise DecisionInputError("services[%d].%s must be a number >= 0" % (i, key))
        out.append(clean)
    return out


def normalize_signals(signals):
    signals = signals or {}
    if not isinstance(signals, dict):
        raise DecisionInputError("signals must be a dictionary of true/false")
    _unknown("signal", signals, SIGNALS)
    for key, value in signals.items():
        if not isinstance(value, bool):
            raise DecisionInputError("signal %s must be true or false, got %r" % (key, value))
    return {key: signals.get(key, False) for key in SIGNALS}


def normalize_baseline(baseline):
    baseline = baseline or {}
    if not isinstance(baseline, dict):
        raise DecisionInputError("baseline must be a dictionary")
    _unknown("baseline key", baseline, BASELINE_KEYS)
    out = {}
    for key, value in baseline.items():
        if value is None:
            continue
        if not _is_number(value) or value <= 0:
            raise DecisionInputError("baseline.%s must be a number > 0, got %r" % (key, value))
        out[key] = value
    return out


def normalize_context(context):
    context = context or {}
    if not isinstance(context, dict):
        raise DecisionInputError("context must be a dictionary")
    _unknown("context key", context, CONTEXT_KEYS)
    out = {
        "quick_fix_minutes": context.get("quick_fix_minutes"),
        "isolated_non_critical": context.get("isolated_non_critical", False),
        "schema_changed": context.get("schema_changed", False),
        "investigation_minutes": context.get("investigation_minutes"),
    }
    for key in ("quick_fix_minutes", "investigation_minutes"):
        if out[key] is not None and (not _is_number(out[key]) or out[key] < 0):
            raise DecisionInputError("context.%s must be a number >= 0 or null, got %r" % (key, out[key]))
    for key in ("isolated_non_critical", "schema_changed"):
        if not isinstance(out[key], bool):
            raise DecisionInputError("context.%s must be true or false" % key)
    return out


def effective_thresholds(overrides=None):
    """Defaults, overridden, with every window multiplied by window_scale."""
    overrides = overrides or {}
    if not isinstance(overrides, dict):
        raise DecisionInputError("thresholds must be a dictionary")
    _unknown("threshold", overrides, DEFAULT_THRESHOLDS)
    merged = dict(DEFAULT_THRESHOLDS)
    for key, value in overrides.items():
        if value is None:
            continue
        if not _is_number(value) or value < 0:
            raise DecisionInputError("threshold %s must be a number >= 0, got %r" % (key, value))
        merged[key] = value
    if merged["window_scale"] <= 0:
        raise DecisionInputError("threshold window_scale must be > 0")
    for key in SCALED:
        # Rounded so that 300 x 0.1 is 30, not 30.000000000000004, at the window's edge.
        merged[key] = round(merged[key] * merged["window_scale"], 6)
    return merged


# --------------------------------------------------------------------------- windows


def fmt_duration(seconds):
    if seconds >= 60 and abs(seconds / 60 - round(seconds / 60)) < 1e-9:
        return "%d min" % round(seconds / 60)
    return "%g s" % round(seconds, 1)


def fmt_num(value):
    return "%g" % round(value, 2)


def window_values(samples, metric, window):
    """(state, values) for `metric` over the window ending at the latest sample.

    state is "no_data" (metric absent from the latest sample), "short" (samples do not reach back
    `window` seconds), "gap" (a sample inside the window lacks the metric) or "ok".
    """
    if not samples or metric not in samples[-1]:
        return "no_data", []
    if not window:
        return "ok", [samples[-1][metric]]
    start = samples[-1]["ts"] - window
    if samples[0]["ts"] > start:
        return "short", []
    inside = [s for s in samples if s["ts"] >= start]
    if any(metric not in s for s in inside):
        return "gap", []
    return "ok", [s[metric] for s in inside]


# --------------------------------------------------------------------------- rules


class _Findings:
    def __init__(self):
        self.triggers = []
        self.no_data = []
        self.short = []

    def hit(self, rule_id, priority, category, message, observed=None, threshold=None, window=None):
        self.triggers.append(
            {
                "id": rule_id,
                "priority": priority,
                "category": category,
                "message": message,
                "observed": observed,
                "threshold": threshold,
                "window_seconds": window,
            }
        )

    def missing(self, rule_id, state):
        if state == "no_data":
            self.no_data.append(rule_id)
        elif state == "short":
            self.short.append(rule_id)


# "Greater than" rules over samples: id, priority, category, metric, label, limit key, window key.
# With a baseline metric the limit is a factor of that baseline (p95 > 5x baseline).
ABOVE_RULES = (
    ("error_rate_critical", "critical", "error_rate", "error_rate", "error rate", "error_rate_critical",
     "error_rate_critical_window"),
    ("error_rate_elevated", "critical", "error_rate", "error_rate", "error rate", "error_rate_elevated",
     "error_rate_elevated_window"),
    ("critical_endpoint_errors", "critical", "error_rate", "critical_error_rate", "critical endpoint error rate",
     "critical_error_rate", None),
    ("p95_critical", "critical", "performance", "p95_ms", "p95", "p95_critical_factor", "p95_critical_window"),
    ("p50_critical", "critical", "performance", "p50_ms", "p50", "p50_critical_factor", "p50_critical_window"),
    ("db_query_critical", "critical", "performance", "db_query_ms", "database query time",
     "db_query_critical_factor", None),
    ("error_rate_high", "high", "error_rate", "error_rate", "error rate", "error_rate_high", "error_rate_high_window"),
    ("p95_high", "high", "performance", "p95_ms", "p95", "p95_high_factor", "p95_high_window"),
    ("email_failures", "high", "integrations", "email_failure_rate", "email failure rate", "email_failure_rate",
     None),
    ("openai_failures", "high", "integrations", "openai_failure_rate", "OpenAI failure rate",
     "openai_failure_rate", None),
    ("memory_sustained", "high", "resources", "memory_percent", "memory", "memory_percent", "resource_window"),
    ("cpu_sustained", "high", "resources", "cpu_percent", "CPU", "cpu_percent", "resource_window"),
)  # fmt: skip

# The decision matrix's bands, checked over matrix_window: the band the whole window sits in.
BAND_RULES = (
    ("matrix_error_rate", "error_rate", "error rate", "matrix_error_rate_"),
    ("matrix_p95", "p95_ms", "p95/baseline", "matrix_p95_"),
)
BAND_ORDER = (("critical", ">"), ("high", ">"), ("medium", ">"), ("low", ">="))

SERVICE_RULES = ("critical_service_down", "health_checks_failing", "complete_outage", "non_critical_service_down")


def _above_rule(f, samples, baseline, t, rule):
    rule_id, priority, category, metric, label, limit_key, window_key = rule
    window = t[window_key] if window_key else 0
    limit = t[limit_key]
    if metric in BASELINE_KEYS:
        if metric not in baseline:
            f.no_data.append(rule_id)
            return
        base = baseline[metric]
        bound, unit, limit_text = limit * base, " ms", "%sx baseline (%s ms)" % (fmt_num(limit), fmt_num(base))
    else:
        base, bound, unit, limit_text = None, limit, "%", fmt_num(limit) + "%"
    state, values = window_values(samples, metric, window)
    if state != "ok":
        f.missing(rule_id, state)
        return
    if not all(value > bound for value in values):
        return
    observed = min(values)  # the window's least bad value: even that one crosses the line
    text = "%s %s%s > %s" % (label, fmt_num(observed), unit, limit_text)
    if window:
        text += " for %s" % fmt_duration(window)
    if base:
        text += " (%sx)" % fmt_num(observed / base)
    f.hit(rule_id, priority, category, text, observed=observed, threshold=bound, window=window or None)


def _band_rule(f, samples, baseline, t, rule):
    rule_id, metric, label, prefix = rule
    divisor, unit = 1.0, "%"
    if metric in BASELINE_KEYS:
        if metric not in baseline:
            f.no_data.append(rule_id)
            return
        divisor, unit = baseline[metric], "x"
    window = t["matrix_window"]
    state, values = window_values(samples, metric, window)
    if state != "ok":
        f.missing(rule_id, state)
        return
    observed = min(values) / divisor
    for priority, op in BAND_ORDER:
        bound = t[prefix + priority]
        if (observed > bound) if op == ">" else (observed >= bound):
            text = "decision matrix: %s %s%s %s %s%s over %s" % (
                label, fmt_num(observed), unit, op, fmt_num(bound), unit, fmt_duration(window))  # fmt: skip
            f.hit(rule_id, priority, "matrix", text, observed=observed, threshold=bound, window=window)
            return


def _service_rules(f, services, t):
    if not services:
        f.no_data.extend(SERVICE_RULES)
        return
    for svc in services:
        name, down = svc["name"], svc["down_seconds"]
        if not svc["healthy"]:
            rule_id, priority, limit_key, kind = (
                ("critical_service_down", "critical", "critical_service_down_seconds", "critical")
                if svc["critical"]
                else ("non_critical_service_down", "high", "non_critical_service_down_seconds", "non-critical")
            )
            if down > t[limit_key]:
                text = "%s service %s down for %s (> %s)" % (kind, name, fmt_duration(down), fmt_duration(t[limit_key]))
                f.hit(rule_id, priority, "availability", text, observed=down, threshold=t[limit_key])
        # The runbook's "health checks failing consistently (3/3)" is a critical service's: a non-critical service
        # that fails its checks is a high issue once it has been down over its 15 minutes (the rule above).
        if svc["critical"] and svc["failed_checks"] >= t["failed_checks"]:
            text = "%s failed %d consecutive health checks (>= %d)" % (name, svc["failed_checks"], t["failed_checks"])
            f.hit("health_checks_failing", "critical", "availability", text, observed=svc["failed_checks"],
                  threshold=t["failed_checks"])  # fmt: skip
    if all(not svc["healthy"] for svc in services):
        text = "complete outage: all %d services unhealthy" % len(services)
        f.hit("complete_outage", "critical", "availability", text, observed=len(services), threshold=len(services))


def _sample_rules(f, samples, baseline, t):
    for rule in ABOVE_RULES:
        _above_rule(f, samples, baseline, t, rule)

    state, values = window_values(samples, "stripe_ok", 0)
    if state != "ok":
        f.missing("stripe_broken", state)
    elif values[0] is False:
        f.hit("stripe_broken", "high", "integrations", "Stripe payment integration broken", observed=False,
              threshold=True)  # fmt: skip

    state, values = window_values(samples, "disk_free_percent", 0)
    if state != "ok":
        f.missing("disk_low", state)
    elif values[0] < t["disk_free_percent"]:
        text = "disk free %s%% < %s%%" % (fmt_num(values[0]), fmt_num(t["disk_free_percent"]))
        f.hit("disk_low", "high", "resources", text, observed=values[0], threshold=t["disk_free_percent"])

    latest = samples[-1] if samples else {}
    used, most = latest.get("db_connections_used"), latest.get("db_connections_max")
    if used is None or most is None:
        f.no_data.append("db_connections_exhausted")
    elif most > 0 and used >= most:
        text = "database connections exhausted: %s of %s in use" % (fmt_num(used), fmt_num(most))
        f.hit("db_connections_exhausted", "high", "resources", text, observed=used, threshold=most)

    for rule in BAND_RULES:
        _band_rule(f, samples, baseline, t, rule)


def _signal_rules(f, signals):
    for name, (priority, category) in SIGNALS.items():
        if signals[name]:
            f.hit(name, priority, category, SIGNAL_TEXT[name], observed=True, threshold=None)


# --------------------------------------------------------------------------- decision


def choose_procedure(signals, context, services):
    """(procedure, service) for a rollback decision."""
    if any(signals[name] for name in SHUTDOWN_SIGNALS):
        return "D", None
    if context["schema_changed"] or signals["migration_data_loss"]:
        return "B", None
    unhealthy = [svc["name"] for svc in services if not svc["healthy"]]
    if len(services) >= 2 and len(unhealthy) == 1:
        return "C", unhealthy[0]
    return "A", None


def blockers_for(priority, context, t, max_downtime=None):
    """The runbook's reasons not to roll back. A fix is a reason when it is quick (under quick_fix_minutes), or when it
    fits within the downtime the matrix allows this priority: the runbook rolls back when the fix would take longer."""
    found = []
    quick = context["quick_fix_minutes"]
    if quick is not None and quick < t["quick_fix_minutes"]:
        found.append("quick fix available in %s min (under %s min)" % (fmt_num(quick), fmt_num(t["quick_fix_minutes"])))
    elif quick is not None and max_downtime is not None and quick <= max_downtime:
        found.append("the fix (%s min) fits within the %s min of downtime the runbook allows a %s issue"
                     % (fmt_num(quick), fmt_num(max_downtime), priority))
    if context["isolated_non_critical"] and priority != "critical":
        found.append("issue isolated to a non-critical feature")
    return found


def evaluate(samples=None, baseline=None, services=None, signals=None, context=None, thresholds=None):
    """The whole decision. Raises DecisionInputError on input it cannot evaluate."""
    t = effective_thresholds(thresholds)
    samples = normalize_samples(samples)
    services = normalize_services(services)
    signals = normalize_signals(signals)
    baseline = normalize_baseline(baseline)
    context = normalize_context(context)

    f = _Findings()
    _service_rules(f, services, t)
    _sample_rules(f, samples, baseline, t)
    _signal_rules(f, signals)
    triggers = sorted(f.triggers, key=lambda trig: -RANK[trig["priority"]])  # stable: rule order within a level

    priority = triggers[0]["priority"] if triggers else "none"
    decision, max_downtime = DECISIONS[priority]
    escalated = False
    investigation = context["investigation_minutes"]
    if priority == "medium" and investigation is not None and investigation > t["investigation_minutes"]:
        decision, escalated = "rollback", True

    procedure = service = None
    blockers = []
    without_blockers = None
    if decision in ROLLBACK_DECISIONS:
        procedure, service = choose_procedure(signals, context, services)
        if procedure != "D":
            blockers = blockers_for(priority, context, t, max_downtime)
        if blockers:
            without_blockers = {
                "decision": decision,
                "procedure": procedure,
                "service": service,
                "max_downtime_minutes": max_downtime,
            }
            decision, max_downtime, procedure, service = "fix_forward", None, None, None

    result = {
        "priority": priority,
        "decision": decision,
        "max_downtime_minutes": max_downtime,
        "procedure": procedure,
        "service": service,
        "triggers": triggers,
        "blockers": blockers,
        "no_data": sorted(set(f.no_data)),
        "insufficient_history": sorted(set(f.short)),
        "escalated": escalated,
        "without_blockers": without_blockers,
        "thresholds": t,
    }
    result["summary"] = summarize(result, investigation, t["investigation_minutes"])
    return result


def summarize(result, investigation_minutes=None, investigation_limit=30):
    priority, decision = result["priority"], result["decision"]
    if priority == "none":
        head = "none: no rule matched"
        if result["no_data"]:
            head += " (%d rules without data)" % len(result["no_data"])
        return head
    what = {
        "rollback_now": "roll back now",
        "rollback": "roll back",
        "investigate": "investigate (roll back if not fixed within %s min)" % fmt_num(investigation_limit),
        "fix_forward": "fix forward",
    }[decision]
    if result["procedure"]:
        what += " with Procedure %s" % result["procedure"]
        if result["service"]:
            what += " (%s)" % result["service"]
    if result["max_downtime_minutes"]:
        what += ", max downtime %d min" % result["max_downtime_minutes"]
    if result["escalated"]:
        what += ", investigated %s min already" % fmt_num(investigation_minutes)
    if result["blockers"]:
        what += ", not rolling back: %s" % "; ".join(result["blockers"])
    first = result["triggers"][0]["message"]
    more = len(result["triggers"]) - 1
    tail = " (+%d more)" % more if more else ""
    # One line even when a service name carries a line break.
    return " ".join(("%s: %s. %s%s" % (priority, what, first, tail)).splitlines())


# The module's options; the action plugin validates against the same spec.
ARGUMENT_SPEC = dict(
    samples=dict(type="list", elements="dict", required=True),
    baseline=dict(type="dict", default={}),
    services=dict(type="list", elements="dict", default=[]),
    signals=dict(type="dict", default={}),
    context=dict(type="dict", default={}),
    thresholds=dict(type="dict", default={}),
)
