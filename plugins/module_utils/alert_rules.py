# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus alerting rules made from the decision matrix: the same rules, thresholds and windows as
rollback_decision (module_utils/decision.py), so that an alert fires when an assessment of the same figures would
find the trigger. The rules that count consecutive health checks (health_checks_failing) or weigh every service at
once (complete_outage) have no alert: a service down for its 5 or 15 minutes has one.

The rules read the decision's own figures as recorded series, ``runbook_rollback:<figure>`` (error_rate,
p95_ms, cpu_percent, ... in the decision's units: percent, milliseconds), and each service's health as
``runbook_rollback:service_up{service, critical}`` (1 up, 0 down). A site maps its metrics onto those names with
recording rules of its own (the staging stack's are in demo/prometheus/staging-recording.yml); the
alerting rules stay the collection's. Each alert carries the runbook's priority (``severity``), the rule
(``runbook_rule``) and the decision the priority calls for (``runbook_decision``): the labels an Event-Driven
Ansible rulebook, or a person, acts on.

Pure functions, no I/O.
"""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.module_utils import decision

PREFIX = "runbook_rollback"
GROUP = "runbook-rollback-decision-matrix"


def series(metric):
    return "%s:%s" % (PREFIX, metric)


def _camel(rule_id):
    return "RunbookRollback" + "".join(part.capitalize() for part in rule_id.split("_"))


def duration(seconds):
    """A Prometheus duration: 5m, 90s, 1h."""
    seconds = round(float(seconds))
    if seconds and seconds % 3600 == 0:
        return "%dh" % (seconds // 3600)
    if seconds and seconds % 60 == 0:
        return "%dm" % (seconds // 60)
    return "%ds" % seconds


def _number(value):
    return ("%.6f" % float(value)).rstrip("0").rstrip(".")


def _rule(rule_id, priority, expr, window, summary):
    decided, minutes = decision.DECISIONS[priority]
    rule = {"alert": _camel(rule_id), "expr": expr}
    if window:
        rule["for"] = duration(window)
    rule["labels"] = {"severity": priority, "runbook_rule": rule_id, "runbook_decision": decided}
    rule["annotations"] = {
        "summary": summary,
        "description": "Runbook priority %s: %s%s. Assess with playbooks/assess.yml." % (
            priority, decided.replace("_", " "), " (maximum downtime %d min)" % minutes if minutes else ""),
    }  # fmt: skip
    return rule


def alert_rules(thresholds=None, baseline=None):
    """The rule file (a dict, as Prometheus reads it) for these thresholds (decision.DEFAULT_THRESHOLDS overridden,
    windows scaled by window_scale) and this baseline (p95_ms, p50_ms, db_query_ms: a rule that needs a baseline
    the site has not given is left out, as the decision reports it as having no data)."""
    t = decision.effective_thresholds(thresholds)
    base = decision.normalize_baseline(baseline)
    rules = []
    for rule_id, priority, _category, metric, label, limit_key, window_key in decision.ABOVE_RULES:
        window = t[window_key] if window_key else 0
        if metric in decision.BASELINE_KEYS:
            if metric not in base:
                continue
            bound = t[limit_key] * base[metric]
            text = "%s above %sx its baseline of %s ms" % (label, _number(t[limit_key]), _number(base[metric]))
        else:
            bound = t[limit_key]
            text = "%s above %s%%" % (label, _number(bound))
        if window:
            text += " for %s" % decision.fmt_duration(window)
        rules.append(_rule(rule_id, priority, "%s > %s" % (series(metric), _number(bound)), window, text))
    for rule_id, metric, label, prefix in decision.BAND_RULES:
        divisor, unit = 1.0, "%"
        if metric in decision.BASELINE_KEYS:
            if metric not in base:
                continue
            divisor, unit = float(base[metric]), "x baseline"
        bands = [(priority, op, t[prefix + priority]) for priority, op in decision.BAND_ORDER]
        window = duration(t["matrix_window"])
        for index, (priority, op, bound) in enumerate(bands):
            # The decision takes the band of the window's lowest value: every value of the window above this band's
            # bound (the for:), and the lowest not above the bound of the band before it.
            expr = "%s %s %s" % (series(metric), op, _number(bound * divisor))
            if index:
                upper = _number(bands[index - 1][2] * divisor)
                expr += " and min_over_time(%s[%s]) <= %s" % (series(metric), window, upper)
            over = decision.fmt_duration(t["matrix_window"])
            text = "decision matrix: %s %s %s%s over %s" % (label, op, _number(bound), unit, over)
            rules.append(_rule("%s_%s" % (rule_id, priority), priority, expr, t["matrix_window"], text))
    rules.append(_rule("stripe_broken", "high", "%s == 0" % series("stripe_ok"), 0,
                       "Stripe payment integration broken"))  # fmt: skip
    rules.append(_rule("disk_low", "high", "%s < %s" % (series("disk_free_percent"), _number(t["disk_free_percent"])),
                       0, "disk free below %s%%" % _number(t["disk_free_percent"])))  # fmt: skip
    rules.append(_rule("db_connections_exhausted", "high",
                       "%s >= %s" % (series("db_connections_used"), series("db_connections_max")), 0,
                       "database connections exhausted"))  # fmt: skip
    up = series("service_up")
    rules.append(_rule("critical_service_down", "critical", '%s{critical="true"} == 0' % up,
                       t["critical_service_down_seconds"],
                       "a critical service down for %s" % decision.fmt_duration(t["critical_service_down_seconds"])))
    rules.append(_rule("non_critical_service_down", "high", '%s{critical!="true"} == 0' % up,
                       t["non_critical_service_down_seconds"],
                       "a non-critical service down for %s"
                       % decision.fmt_duration(t["non_critical_service_down_seconds"])))  # fmt: skip
    return {"groups": [{"name": GROUP, "rules": rules}]}
