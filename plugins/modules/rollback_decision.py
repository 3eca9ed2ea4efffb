#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_decision
short_description: Decide whether to roll back, how urgently and with which procedure
description:
  - >-
    Evaluates the rollback runbook's rules (when to roll back, the decision matrix and the decision tree)
    against metric samples, service states and reported conditions, and returns a priority, a decision, the
    runbook procedure to use and every rule that fired.
  - >-
    The evaluation is pure and runs on the controller (an action plugin); it changes nothing and reads nothing.
    The same logic is in the collection's C(module_utils/decision.py).
  - >-
    B(Windows.) "X for W" holds when the samples reach back at least W seconds from the latest sample (the
    earliest sample is at or before the latest C(ts) minus W) and every sample inside that window satisfies X.
    A rule with no window uses the latest sample only. A sample lacking the metric does not satisfy a rule on
    it. A rule whose metric is absent from the latest sample cannot be evaluated, so it is listed in RV(no_data)
    and never triggers. A windowed rule whose samples do not reach back far enough does not trigger and is
    listed in RV(insufficient_history).
  - >-
    B(Critical) (rollback_now, 5 minutes). A critical service down for more than 5 minutes; a service with at
    least 3 consecutive failed health checks; every listed service unhealthy (complete outage); error rate
    above 10 % for 5 minutes, or above 5 % for 10 minutes; critical endpoint error rate above 1 %; p95 above 5x
    baseline for 10 minutes; p50 above 3x baseline for 10 minutes; database query time above 10x baseline; the
    data integrity signals (C(data_corruption), C(incorrect_billing), C(tenant_data_mixing),
    C(migration_data_loss)), the security signals (C(security_breach), C(vulnerability_exploited),
    C(unauthorized_access), C(auth_bypass)) and the broken critical flows (C(login_broken), C(signup_broken),
    C(payment_failing), C(chat_broken), C(data_loss_on_save)).
  - >-
    B(High) (rollback, 15 minutes). A non-critical service down for more than 15 minutes; error rate above 2 %
    for 20 minutes; p95 above 2x baseline for 20 minutes; C(stripe_ok) false; email failures above 50 %;
    OpenAI failures above 20 %; memory or CPU above 90 % for 10 minutes (the runbook's "sustained"); disk free
    below 5 %; database connections used reaching the maximum; the C(logs_missing), C(metrics_missing) and
    C(alerts_not_firing) signals.
  - >-
    B(Medium) (investigate, 30 minutes). The feature signals (C(new_feature_broken), C(ui_rendering_issue),
    C(analytics_inconsistent)), the configuration signals (C(config_issue), C(feature_flag_misconfigured),
    C(cache_misconfigured)) and C(slow_queries). A medium issue investigated for more than 30 minutes
    (O(context)'s C(investigation_minutes)) becomes a C(rollback).
  - >-
    B(The decision matrix), over a 5-minute window, by the window's lowest value. Error rate above 10 % critical,
    above 5 % high, above 2 % medium, at least 0.5 % low. p95 over baseline above 5 critical, above 3 high, above
    2 medium, at least 1.5 low. The runbook's medium list also names "error rate 0.5-1 %, p95 1.5x"; its matrix
    calls those low. The matrix is the decision table, so it wins, and those figures give C(fix_forward).
  - >-
    B(Priority) is the highest that any rule reached. C(critical) gives C(rollback_now) and 5 minutes of
    maximum downtime, C(high) C(rollback) and 15, C(medium) C(investigate) and 30, C(low) C(fix_forward),
    nothing C(none).
  - >-
    B(Procedure), for C(rollback_now) and C(rollback). D (emergency shutdown) when running on does more damage, that is
    C(security_breach), C(vulnerability_exploited), C(unauthorized_access), C(auth_bypass),
    C(tenant_data_mixing), C(data_corruption). Otherwise B (code and database) when the bad deployment changed
    the schema (O(context)'s C(schema_changed)) or a migration lost data. Otherwise C (one service) when exactly one
    of two or more listed services is unhealthy; RV(service) names it. Otherwise A (code only).
  - >-
    B(Blockers.) The runbook's "do not roll back" rules: a fix expected in under 5 minutes
    (O(context)'s C(quick_fix_minutes)), and an issue isolated to a non-critical feature
    (O(context)'s C(isolated_non_critical), ignored at critical priority). A blocker turns a rollback decision into
    C(fix_forward) and keeps what it would have been in RV(without_blockers). Neither blocks Procedure D. A
    schema change is not a blocker: it chooses Procedure B.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.conn
  - action_common_attributes.flow
attributes:
  become:
    support: none
  connection:
    support: none
    details: The decision is made on the controller; no connection to the host is used.
  delegation:
    support: none
  check_mode:
    support: full
    details: Pure evaluation; the result is the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: all
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
options:
  samples:
    description:
      - >-
        Time-ordered samples. Each has C(ts) (epoch seconds) and any of C(error_rate), C(critical_error_rate)
        (percent, 0-100), C(p95_ms), C(p50_ms), C(db_query_ms), C(cpu_percent), C(memory_percent),
        C(disk_free_percent), C(db_connections_used), C(db_connections_max), C(email_failure_rate),
        C(openai_failure_rate) (percent) and C(stripe_ok) (bool). Other keys are refused.
      - >-
        M(runbook.rollback.metrics_sample) and M(runbook.rollback.prometheus_samples) return them in this shape.
    type: list
    elements: dict
    required: true
  baseline:
    description:
      - >-
        Normal figures, C(p95_ms), C(p50_ms) and C(db_query_ms). A rule against a missing baseline has no data.
      - >-
        The runbook's baseline table gives p95 under 100 ms (auth) and under 500 ms (chat), and database queries
        under 50 ms; the collection's default (C(rollback_baseline)) sets C(p95_ms=500) and C(db_query_ms=50).
    type: dict
    default: {}
  services:
    description:
      - >-
        Services, each with C(name), C(critical) (bool, default false), C(healthy) (bool, default true),
        C(down_seconds) and C(failed_checks) (consecutive failed health checks).
      - >-
        With no services, the service rules are listed in RV(no_data).
    type: list
    elements: dict
    default: []
  signals:
    description:
      - >-
        The runbook's conditions that are not metrics, as C(name) true/false. Names are C(data_corruption),
        C(incorrect_billing), C(tenant_data_mixing), C(migration_data_loss), C(security_breach),
        C(vulnerability_exploited), C(unauthorized_access), C(auth_bypass), C(login_broken), C(signup_broken),
        C(payment_failing), C(chat_broken), C(data_loss_on_save), C(logs_missing), C(metrics_missing),
        C(alerts_not_firing), C(new_feature_broken), C(ui_rendering_issue), C(analytics_inconsistent),
        C(config_issue), C(feature_flag_misconfigured), C(cache_misconfigured), C(slow_queries).
        Other names are refused.
    type: dict
    default: {}
  context:
    description:
      - >-
        C(quick_fix_minutes) (number or null), C(isolated_non_critical) (bool), C(schema_changed) (bool, the bad
        deployment ran database migrations), C(investigation_minutes) (number or null).
    type: dict
    default: {}
  thresholds:
    description:
      - >-
        Overrides of any threshold or window (seconds), by name. Names and defaults are
        C(critical_service_down_seconds=300), C(failed_checks=3), C(error_rate_critical=10),
        C(error_rate_critical_window=300), C(error_rate_elevated=5), C(error_rate_elevated_window=600),
        C(critical_error_rate=1), C(p95_critical_factor=5), C(p95_critical_window=600), C(p50_critical_factor=3),
        C(p50_critical_window=600), C(db_query_critical_factor=10), C(non_critical_service_down_seconds=900),
        C(error_rate_high=2), C(error_rate_high_window=1200), C(p95_high_factor=2), C(p95_high_window=1200),
        C(email_failure_rate=50), C(openai_failure_rate=20), C(memory_percent=90), C(cpu_percent=90),
        C(resource_window=600), C(disk_free_percent=5), C(matrix_window=300), C(matrix_error_rate_critical=10),
        C(matrix_error_rate_high=5), C(matrix_error_rate_medium=2), C(matrix_error_rate_low=0.5),
        C(matrix_p95_critical=5), C(matrix_p95_high=3), C(matrix_p95_medium=2), C(matrix_p95_low=1.5),
        C(quick_fix_minutes=5), C(investigation_minutes=30).
      - >-
        C(window_scale) (default 1) multiplies every window and every C(*_seconds) duration, so that a drill
        can use seconds where production uses minutes (V(0.0167) makes 5 minutes about 5 seconds).
    type: dict
    default: {}
seealso:
  - module: runbook.rollback.metrics_sample
  - module: runbook.rollback.prometheus_samples"""

EXAMPLES = r"""
- name: Decide from sampled figures
  runbook.rollback.rollback_decision:
    samples: "{{ figures.samples }}"
    services: "{{ figures.services }}"
    baseline: {p95_ms: 500, db_query_ms: 50}
  register: decision

- name: Decide from what an engineer reports, with no metrics
  runbook.rollback.rollback_decision:
    samples: []
    signals: {payment_failing: true}
    context: {quick_fix_minutes: 20}

- name: A drill that runs in seconds, every window a sixtieth of the runbook's
  runbook.rollback.rollback_decision:
    samples: "{{ figures.samples }}"
    baseline: {p95_ms: 500}
    thresholds: {window_scale: 0.0167}
"""

RETURN = r"""
priority:
  description: The highest priority matched, C(critical), C(high), C(medium), C(low) or C(none).
  returned: success
  type: str
  sample: critical
decision:
  description: C(rollback_now), C(rollback), C(investigate), C(fix_forward) or C(none).
  returned: success
  type: str
  sample: rollback_now
max_downtime_minutes:
  description: The matrix's maximum downtime, 5, 15 or 30; null for fix forward and none.
  returned: success
  type: int
  sample: 5
procedure:
  description: The runbook procedure for a rollback decision, C(A), C(B), C(C) or C(D); null otherwise.
  returned: success
  type: str
  sample: A
service:
  description: For Procedure C, the failing service; null otherwise.
  returned: success
  type: str
  sample: payments
triggers:
  description: Every rule that fired, highest priority first.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Rule name, for example C(error_rate_critical), C(matrix_p95) or a signal's name.
      type: str
    priority:
      description: The rule's priority.
      type: str
    category:
      description: C(availability), C(error_rate), C(performance), C(data_integrity), C(security),
        C(user_flows), C(integrations), C(resources), C(observability), C(features), C(configuration) or
        C(matrix).
      type: str
    message:
      description: What was observed against what threshold, one line.
      type: str
      sample: error rate 20.4% > 10% for 5 min
    observed:
      description: The observed figure (for a window, its lowest value).
      type: raw
    threshold:
      description: The limit it crossed.
      type: raw
    window_seconds:
      description: The rule's window after scaling, or null.
      type: float
blockers:
  description: Why a rollback decision became C(fix_forward).
  returned: success
  type: list
  elements: str
  sample: ["quick fix available in 3 min (under 5 min)"]
without_blockers:
  description: What the decision would have been without the blockers (C(decision), C(procedure), C(service),
    C(max_downtime_minutes)), or null.
  returned: success
  type: dict
no_data:
  description: Rules that could not be evaluated, the metric (or baseline, or service list) being absent.
  returned: success
  type: list
  elements: str
insufficient_history:
  description: Windowed rules whose samples do not reach back over their window.
  returned: success
  type: list
  elements: str
escalated:
  description: Whether a medium issue became a rollback after the investigation time.
  returned: success
  type: bool
thresholds:
  description: The thresholds used, after overrides and O(thresholds)'s C(window_scale).
  returned: success
  type: dict
summary:
  description: One line for humans.
  returned: success
  type: str
  sample: "critical: roll back now with Procedure A, max downtime 5 min. error rate 20.4% > 10% for 5 min (+3 more)"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.decision import (
    ARGUMENT_SPEC,
    DecisionInputError,
    evaluate,
)


def main():
    # Normally the action plugin of the same name runs instead, on the controller; this entry point
    # gives the same result where the module itself is executed.
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = evaluate(**module.params)
    except DecisionInputError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
