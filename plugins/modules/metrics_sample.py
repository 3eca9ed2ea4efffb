#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: metrics_sample
short_description: Sample the application's error rate, latency and health over time
description:
  - Reads the application's own figures every O(interval) seconds for O(duration) seconds and returns them in
    the shape M(runbook.rollback.rollback_decision) takes as O(runbook.rollback.rollback_decision#module:samples)
    and O(runbook.rollback.rollback_decision#module:services).
  - >-
    O(error_rate_url) answers JSON C({"rate": percent}), O(latency_url) answers JSON C({"p95": ms, "p50": ms}).
    When such a body also says C("requests": 0), the figure was measured over no request and is left out.
  - O(metrics_url) is a Prometheus text exposition with the counter O(requests_counter) labelled C(upstream) and
    C(status_class) (C(2xx), C(5xx), ...). The change of the O(critical_upstreams)' counters between two ticks
    gives C(critical_error_rate), so the first tick never carries it.
  - A figure that cannot be read in a tick (endpoint down, not JSON) is left out of that tick's sample. The
    decision then reports the rule as having no data; it never assumes zero.
  - Each health endpoint counts consecutive failed checks. C(down_seconds) is how long it has been failing,
    as seen during this sampling only.
  - With O(stop_when), sampling ends early once the metric has been at least the limit for the given seconds
    (the verify role's stability watch uses it so that a failing rollback is not watched for 15 minutes).
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.tls
attributes:
  check_mode:
    support: full
    details: Read-only; it samples in check mode too.
options:
  error_rate_url:
    description: URL of the error rate (JSON with C(rate), a percentage).
    type: str
  latency_url:
    description: URL of the response times (JSON with C(p95) and C(p50), in milliseconds).
    type: str
  metrics_url:
    description: URL of the Prometheus text metrics holding O(requests_counter).
    type: str
  requests_counter:
    description:
      - Name of the counter of proxied requests in O(metrics_url), labelled C(upstream) and C(status_class).
      - Required with O(metrics_url).
    type: str
  critical_upstreams:
    description:
      - Values of the C(upstream) label that are the critical endpoints. None gives no C(critical_error_rate).
    type: list
    elements: str
    default: []
  health_endpoints:
    description:
      - Health endpoints, each a dictionary with C(name) and C(url), and optionally C(service) (the name the
        decision and Procedure C use, for example the compose service) and C(critical) (bool).
      - An endpoint is healthy when it answers with a 2xx status, whatever its body.
    type: list
    elements: dict
    default: []
  duration:
    description: Seconds to sample for; V(0) takes one sample.
    type: float
    default: 60
  interval:
    description: Seconds between samples.
    type: float
    default: 5
  timeout:
    description: Seconds per request.
    type: float
    default: 3
  stop_when:
    description:
      - Stop early when C(metric) has been at least C(at_least) in every sample of the last C(seconds) seconds.
    type: dict
"""

EXAMPLES = r"""
- name: Sample the app behind its proxy for five minutes
  runbook.rollback.metrics_sample:
    error_rate_url: https://app.example.test/internal/error-rate
    metrics_url: https://app.example.test/metrics
    requests_counter: proxy_requests_total
    critical_upstreams: [api, payments]
    health_endpoints:
      - {name: api, service: api, critical: true, url: "https://app.example.test/api/health"}
      - {name: worker, service: worker, url: "https://app.example.test/worker/health"}
    duration: 300
    interval: 15
  register: figures

- name: Decide
  runbook.rollback.rollback_decision:
    samples: "{{ figures.samples }}"
    services: "{{ figures.services }}"
    baseline: {p95_ms: 500}

- name: Watch for 15 minutes, stop as soon as the error rate has stayed at 1 % or more for 5 minutes
  runbook.rollback.metrics_sample:
    error_rate_url: https://app.example.test/internal/error-rate
    duration: 900
    interval: 15
    stop_when: {metric: error_rate, at_least: 1, seconds: 300}
  register: stability
"""

RETURN = r"""
samples:
  description: One dictionary per tick, oldest first, with C(ts) (epoch seconds) and the figures read.
  returned: always
  type: list
  elements: dict
  sample: [{"ts": 1764340000.0, "error_rate": 20.4, "critical_error_rate": 31.0, "p95_ms": 42.0, "p50_ms": 8.0}]
services:
  description: One dictionary per health endpoint, in the order given.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "worker", "critical": true, "healthy": true, "failed_checks": 0, "down_seconds": 0}]
stopped_early:
  description: Whether O(stop_when) ended the sampling.
  returned: always
  type: bool
stop_observed:
  description: With RV(stopped_early), the lowest value of the metric over the stop window.
  returned: always
  type: float
unreadable:
  description: Error-rate endpoint failures seen, by metric (the last reason).
  returned: always
  type: dict
health_errors:
  description: The last error of each endpoint that was failing at the end.
  returned: always
  type: dict
summary:
  description: One line for humans.
  returned: always
  type: str
  sample: "13 samples over 12s; error rate 20.4%; critical 31%; p95 42 ms; 7/7 services healthy"
"""

from functools import partial

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import TLS_OPTIONS, request, tls_options
from ansible_collections.runbook.rollback.plugins.module_utils.sampling import sample, validate


def main():
    module = AnsibleModule(
        argument_spec=dict(
            TLS_OPTIONS,
            error_rate_url=dict(type="str"),
            latency_url=dict(type="str"),
            metrics_url=dict(type="str"),
            requests_counter=dict(type="str"),
            critical_upstreams=dict(type="list", elements="str", default=[]),
            health_endpoints=dict(type="list", elements="dict", default=[]),
            duration=dict(type="float", default=60),
            interval=dict(type="float", default=5),
            timeout=dict(type="float", default=3),
            stop_when=dict(type="dict"),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    params["counter"] = params.pop("requests_counter")
    try:
        validate(params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    tls = tls_options(params)
    for key in TLS_OPTIONS:
        params.pop(key, None)
    module.exit_json(changed=False, **sample(params, probe=partial(request, tls=tls)))


if __name__ == "__main__":
    main()
