#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: health_check
short_description: Probe the stack's health endpoints and the version they report
description:
  - An endpoint is ok when it answers a 2xx status, whatever its body (JSON, plain C(ok), nothing), and, with
    O(expect_version), the version it reports equals it. The version is read from the JSON body's C(version)
    key, or the endpoint's own C(version_key) (a dotted path, C(build.version)), or its C(version_header).
  - An endpoint that names neither and reports no C(version) (a plain C(ok)) cannot say its release. It is ok,
    marked C(unversioned), and the summary says its release was not checked. One that names where its version
    is must report it there.
  - With O(wait), failing endpoints are probed again every O(interval) seconds until all are ok or O(wait) elapses,
    which covers services still starting after a restart.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.tls
attributes:
  check_mode:
    support: full
    details: Read-only; probes run in check mode too.
options:
  endpoints:
    description:
      - Endpoints to probe, each a dictionary with C(name) and C(url), and optionally C(service) (see
        O(expect_versions)), C(version_key) (where the JSON body says the version, a dotted path; default
        C(version)) and C(version_header) (a header that says it instead, such as C(X-App-Version)).
    type: list
    elements: dict
    required: true
  expect_version:
    description: Version every endpoint must report (in its body's version key or its version header).
    type: str
  expect_versions:
    description:
      - Version per compose service, for stacks that run more than one release (a service pinned by Procedure C).
      - An endpoint whose C(service) is listed must report that version instead of O(expect_version).
    type: dict
  timeout:
    description: Seconds per request.
    type: float
    default: 3
  wait:
    description: Seconds to keep re-probing failing endpoints; V(0) probes once.
    type: float
    default: 0
  interval:
    description: Seconds between passes while waiting.
    type: float
    default: 1
  fail_on_error:
    description: Fail the task (with RV(summary) as message) when an endpoint is not ok.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Wait for every service to report the rolled-back version
  runbook.rollback.health_check:
    endpoints:
      - {name: web, url: "http://127.0.0.1:8080/health"}
      - {name: api, url: "http://127.0.0.1:8080/api/health", version_key: build.version}
      - {name: worker, url: "http://127.0.0.1:8081/status", version_header: X-App-Version}
    expect_version: "{{ version }}"
    wait: 120
    interval: 3
  register: health
"""

RETURN = r"""
endpoints:
  description: One verdict per endpoint, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Endpoint name.
      type: str
      returned: always
      sample: chat
    url:
      description: URL probed.
      type: str
      returned: always
      sample: "http://127.0.0.1:8081/health"
    ok:
      description: Whether the endpoint is healthy.
      type: bool
      returned: always
      sample: false
    status:
      description: HTTP status, or null when no response arrived.
      type: int
      returned: always
      sample: 502
    version:
      description: The C(version) the body reported, or null.
      type: str
      returned: always
      sample: v1.2.3
    unversioned:
      description: Whether the endpoint was ok without reporting the expected version (its release unchecked).
      type: bool
      returned: always
      sample: false
    error:
      description: Why it is not ok, or null.
      type: str
      returned: always
      sample: HTTP 502
healthy:
  description: Whether every endpoint is ok.
  returned: always
  type: bool
  sample: false
summary:
  description: One line for humans and for the failure message.
  returned: always
  type: str
  sample: "6/7 health endpoints ok; chat: HTTP 502"
attempts:
  description: Number of probing passes made.
  returned: always
  type: int
  sample: 1
"""

from functools import partial

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.health import check_all, validate_endpoints
from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import TLS_OPTIONS, request, tls_options


def main():
    module = AnsibleModule(
        argument_spec=dict(
            TLS_OPTIONS,
            endpoints=dict(type="list", elements="dict", required=True),
            expect_version=dict(type="str"),
            expect_versions=dict(type="dict"),
            timeout=dict(type="float", default=3),
            wait=dict(type="float", default=0),
            interval=dict(type="float", default=1),
            fail_on_error=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["timeout"] <= 0 or p["wait"] < 0 or p["interval"] < 0:
        module.fail_json(msg="timeout must be positive; wait and interval must not be negative")
    try:
        validate_endpoints(p["endpoints"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    result = check_all(p["endpoints"], p["expect_version"], timeout=p["timeout"], wait=p["wait"],
                       interval=p["interval"], expect_versions=p["expect_versions"],
                       probe=partial(request, tls=tls_options(p)))
    if p["fail_on_error"] and not result["healthy"]:
        module.fail_json(msg=result["summary"], changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
