#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: prometheus_samples
short_description: Read the rollback decision's metric samples from Prometheus
description:
  - 'Runs one Prometheus range query (C(/api/v1/query_range)) per metric over the last O(duration) seconds before
    O(end), one point every O(step) seconds, and merges the answers on their timestamps into time-ordered samples
    C({"ts": <epoch seconds>, "<metric>": <value>, ...}).'
  - The samples feed the O(runbook.rollback.rollback_decision#module:samples) option of the rollback decision, so
    it can judge windowed rules such as "error rate above 10 % for 5 minutes".
  - Each query must aggregate to one series (with C(sum), C(max), ...); a query returning several series fails
    rather than picking one. A query returning no series leaves its metric out of every sample.
  - Points whose value is C(NaN), C(+Inf) or C(-Inf) (for example a ratio of rates while no requests arrive) are
    skipped; the metric is absent from that sample, which the decision reports as missing data.
  - C(stripe_ok) is a boolean (true when the value is not 0); every other metric is a number.
  - Fails with one line naming the metric and the query when Prometheus is unreachable, answers an HTTP error or
    refuses a query.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.tls
attributes:
  check_mode:
    support: full
    details: Read-only; the queries run in check mode too.
options:
  url:
    description:
      - Base URL of Prometheus, for example V(http://prometheus:9090), or with a path prefix when it sits behind a
        proxy (V(https://metrics.example.com/prometheus)).
      - Requested from the managed host.
    type: str
    required: true
  queries:
    description:
      - Metric name -> PromQL expression that yields that metric as one series.
      - "Metric names are exactly those of the decision's samples: V(error_rate), V(critical_error_rate),
        V(p95_ms), V(p50_ms), V(db_query_ms), V(cpu_percent), V(memory_percent), V(disk_free_percent),
        V(db_connections_used), V(db_connections_max), V(email_failure_rate), V(openai_failure_rate),
        V(stripe_ok)."
      - Rates and percentages in percent (0-100), durations in milliseconds.
    type: dict
    required: true
  duration:
    description: Seconds of history to read, back from O(end).
    type: float
    default: 300
  step:
    description:
      - Seconds between points. Prometheus returns at most 11000 points per query, so O(duration) / O(step) must
        not exceed that.
    type: float
    default: 15
  end:
    description: End of the range, in epoch seconds. Defaults to now.
    type: float
  timeout:
    description: Seconds per query.
    type: float
    default: 10
  headers:
    description:
      - HTTP headers sent with every query, for example C(Authorization) with a bearer token.
      - Never logged.
    type: dict
seealso:
  - module: runbook.rollback.rollback_decision
  - name: Prometheus HTTP API, range queries
    description: The C(/api/v1/query_range) endpoint this module calls.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/#range-queries
"""

EXAMPLES = r"""
# An app instrumented with a request counter (http_requests_total{route,code}) and a latency histogram
# (http_request_duration_seconds_bucket); its payment routes are the critical ones.
- name: Read the last 10 minutes of the app's figures
  runbook.rollback.prometheus_samples:
    url: http://127.0.0.1:9090
    duration: 600
    step: 15
    queries:
      error_rate: >-
        100 * sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))
      critical_error_rate: >-
        100 * sum(rate(http_requests_total{code=~"5..",route=~"/pay.*"}[1m]))
        / sum(rate(http_requests_total{route=~"/pay.*"}[1m]))
      p95_ms: 1000 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))
      p50_ms: 1000 * histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))
  register: metrics

- name: Decide whether to roll back
  runbook.rollback.rollback_decision:
    samples: "{{ metrics.samples }}"

- name: Read a Prometheus behind an authenticating proxy
  runbook.rollback.prometheus_samples:
    url: https://metrics.example.com/prometheus
    headers:
      Authorization: "Bearer {{ prometheus_token }}"
    queries:
      cpu_percent: 100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle",job="app"}[5m])))
      stripe_ok: min(probe_success{job="stripe"})
  register: metrics
"""

RETURN = r"""
samples:
  description:
    - Time-ordered samples, one per timestamp where at least one metric has a finite value; a metric without a value
      at that timestamp is absent from the sample.
    - Pass them as O(runbook.rollback.rollback_decision#module:samples).
  returned: success
  type: list
  elements: dict
  sample:
    - {ts: 1767225600.0, error_rate: 21.4, critical_error_rate: 24.9, p95_ms: 12.8, p50_ms: 4.1}
    - {ts: 1767225615.0, error_rate: 19.7, critical_error_rate: 23.0, p95_ms: 13.1, p50_ms: 4.0}
queries:
  description: The queries run, metric -> PromQL.
  returned: always
  type: dict
  sample:
    p95_ms: 1000 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))
start:
  description: Start of the range, epoch seconds.
  returned: success
  type: float
  sample: 1767225300.0
end:
  description: End of the range, epoch seconds.
  returned: success
  type: float
  sample: 1767225600.0
step:
  description: Seconds between points.
  returned: success
  type: float
  sample: 15.0
series_points:
  description: Metric -> number of points with a finite value; V(0) when the query returned no series.
  returned: success
  type: dict
  sample: {error_rate: 21, critical_error_rate: 21, p95_ms: 21, p50_ms: 21}
"""

from functools import partial

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import TLS_OPTIONS, request, tls_options
from ansible_collections.runbook.rollback.plugins.module_utils.prometheus import PrometheusError, collect, time_range


def main():
    module = AnsibleModule(
        argument_spec=dict(
            TLS_OPTIONS,
            url=dict(type="str", required=True),
            queries=dict(type="dict", required=True),
            duration=dict(type="float", default=300),
            step=dict(type="float", default=15),
            end=dict(type="float"),
            timeout=dict(type="float", default=10),
            headers=dict(type="dict", no_log=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["timeout"] <= 0:
        module.fail_json(msg="timeout must be positive", queries=p["queries"])
    try:
        start, end = time_range(p["duration"], p["step"], p["end"])
        headers = {str(k): str(v) for k, v in (p["headers"] or {}).items()}
        result = collect(p["url"], p["queries"], start, end, p["step"], timeout=p["timeout"], headers=headers,
                         fetch=partial(request, tls=tls_options(p)))
    except PrometheusError as exc:
        module.fail_json(msg=str(exc), queries=p["queries"])
    for metric, count in result["series_points"].items():
        if not count:
            module.warn("Prometheus returned no values for %s in the range: it is absent from every sample" % metric)
    module.exit_json(changed=False, queries=p["queries"], start=start, end=end, step=p["step"], **result)


if __name__ == "__main__":
    main()
