#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_logs
short_description: Repeated errors in the logs of a compose project's services
description:
  - Reads the project's logs since a time (C(docker compose logs --since)) and counts, per service, the lines that
    match O(pattern), grouped by what they say once times, numbers, ids and addresses are set aside.
  - A message one service said at least O(repeat_limit) times is reported in RV(repeated); the runbook's
    "check logs for repeated errors" fails on it.
  - Never prints a log line whole; messages are cut to 160 characters.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.compose
attributes:
  check_mode:
    support: full
    details: Read-only; it reads the logs in check mode too.
options:
  compose_argv:
    required: true
  since:
    description: Read the logs from this time on (RFC 3339, C(2026-12-03T21:00:00Z), or a duration such as C(10m)).
    type: str
    required: true
  services:
    description: The services whose logs are read; empty, every service's.
    type: list
    elements: str
    default: []
  pattern:
    description: A Python regular expression that makes a line an error line.
    type: str
    default: (?i)\b(error|exception|traceback|fatal|panic|critical)\b
  repeat_limit:
    description: How many times one service must say the same error to count as repeated.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Look for repeated errors since the verification began
  runbook.rollback.compose_logs:
    compose_argv: "{{ rollback_compose_argv }}"
    since: "{{ verify_started_at }}"
    repeat_limit: 20
  register: logs
"""

RETURN = r"""
lines:
  description: How many log lines were read.
  returned: success
  type: int
errors:
  description: Service -> number of error lines.
  returned: success
  type: dict
  sample: {payments: 214}
repeated:
  description: The messages a service said at least O(repeat_limit) times, most said first.
  returned: success
  type: list
  elements: dict
  sample: [{service: payments, message: "<time> error payments: request failed error=\"KeyError\"", count: 214}]
summary:
  description: One line for a report.
  returned: success
  type: str
"""

import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.backup import compose_options
from ansible_collections.runbook.rollback.plugins.module_utils.compose import (
    ComposeRunError,
    compose_error,
    compose_run,
)
from ansible_collections.runbook.rollback.plugins.module_utils.logscan import repeated_line, scan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            compose_options(required=True, database=False),
            since=dict(type="str", required=True),
            services=dict(type="list", elements="str", default=[]),
            pattern=dict(type="str", default=r"(?i)\b(error|exception|traceback|fatal|panic|critical)\b"),
            repeat_limit=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        re.compile(params["pattern"])
    except re.error as exc:
        module.fail_json(msg="pattern %r is not a regular expression: %s" % (params["pattern"], exc))
    if params["repeat_limit"] < 1:
        module.fail_json(msg="repeat_limit must be 1 or more, got %d" % params["repeat_limit"])
    args = ["logs", "--no-color", "--since", params["since"]] + list(params["services"])
    try:
        proc = compose_run(params["compose_argv"], params["compose_env"], args)
    except ComposeRunError as exc:
        module.fail_json(msg=str(exc))
    if proc.returncode != 0:
        error = compose_error(proc.stderr) or "exit %d" % proc.returncode
        module.fail_json(msg="docker compose logs: %s" % error[:500])
    found = scan(proc.stdout, params["pattern"], params["repeat_limit"])
    if found["repeated"]:
        summary = repeated_line(found["repeated"])
    else:
        summary = "%d lines, %d errors, none said %d times by one service" % (
            found["lines"], sum(found["errors"].values()), params["repeat_limit"])  # fmt: skip
    module.exit_json(changed=False, summary=summary, **found)


if __name__ == "__main__":
    main()
