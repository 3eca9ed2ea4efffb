#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: smoke_check
short_description: Run the critical user flows against the API gateway
description:
  - Registers a fresh user, logs in, creates a chat, sends a message and checks out the pro plan, through the gateway,
    as the last verification step of a deploy or rollback.
  - Every run uses a unique e-mail address, so repeated checks and drills do not collide.
  - "A flow whose prerequisite failed is reported as failed with C(skipped: <prerequisite> failed)."
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.tls
attributes:
  check_mode:
    support: full
    details: Creates users, chats and payments, so in check mode nothing is sent and the task is reported as skipped.
options:
  base_url:
    description: Base URL of the API gateway, for example C(https://app.example.test).
    type: str
    required: true
  flows:
    description:
      - Flows to run, always in the order register, login, create_chat, send_message, billing_checkout.
      - Each flow's prerequisite must be listed too (login needs register, create_chat and billing_checkout
        need login, send_message needs create_chat).
    type: list
    elements: str
    choices: [register, login, create_chat, send_message, billing_checkout]
    default: [register, login, create_chat, send_message, billing_checkout]
  timeout:
    description: Seconds per HTTP request.
    type: float
    default: 5
  email_domain:
    description: Domain of the throwaway user's e-mail address.
    type: str
    default: example.test
  password:
    description: Password of the throwaway user (a random one per run by default), or of the account O(email).
    type: str
  email:
    description: Run the flows as this existing account (with its O(password)) instead of a new one, for example a
      known test user whose login proves that restored accounts work. C(register) is then not allowed.
    type: str
  fail_on_error:
    description: Fail the task (with RV(summary) as message) when a flow fails.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Smoke-test the stack through the gateway
  runbook.rollback.smoke_check:
    base_url: "https://{{ inventory_hostname }}"
  register: smoke

- name: Only check that users can still sign up and log in
  runbook.rollback.smoke_check:
    base_url: http://127.0.0.1:8080
    flows: [register, login]
    fail_on_error: false
  register: smoke
"""

RETURN = r"""
flows:
  description: One result per flow, in the order run.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Flow name.
      type: str
      returned: always
      sample: create_chat
    ok:
      description: Whether the flow passed.
      type: bool
      returned: always
      sample: false
    status:
      description: HTTP status, or null when no response arrived or the flow was skipped.
      type: int
      returned: always
      sample: 500
    ms:
      description: Request time in milliseconds.
      type: int
      returned: always
      sample: 42
    error:
      description: Why the flow failed, or null.
      type: str
      returned: always
      sample: HTTP 500
  sample:
    - {name: register, ok: true, status: 201, ms: 35, error: null}
    - {name: login, ok: true, status: 200, ms: 21, error: null}
    - {name: create_chat, ok: false, status: 500, ms: 12, error: HTTP 500}
    - {name: send_message, ok: false, status: null, ms: 0, error: "skipped: create_chat failed"}
passed:
  description: Whether every flow passed; null in check mode.
  returned: always
  type: bool
  sample: false
summary:
  description: One line for humans and for the failure message.
  returned: always
  type: str
  sample: "3/5 smoke flows passed; failed: create_chat (HTTP 500), send_message (skipped: create_chat failed)"
email:
  description: E-mail address of the throwaway user, for cleanup.
  returned: when flows ran
  type: str
  sample: smoke-20261128100000-1a2b3c4d@example.test
"""

from functools import partial

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import TLS_OPTIONS, request, tls_options
from ansible_collections.runbook.rollback.plugins.module_utils.smoke import FLOWS, run_flows


def main():
    module = AnsibleModule(
        argument_spec=dict(
            TLS_OPTIONS,
            base_url=dict(type="str", required=True),
            flows=dict(type="list", elements="str", choices=list(FLOWS), default=list(FLOWS)),
            timeout=dict(type="float", default=5),
            email_domain=dict(type="str", default="example.test"),
            password=dict(type="str", no_log=True),
            email=dict(type="str"),
            fail_on_error=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, flows=[], passed=None,
                         summary="check mode: smoke flows not run", msg="check mode: smoke flows not run")
    if p["timeout"] <= 0:
        module.fail_json(msg="timeout must be positive")
    try:
        result = run_flows(p["base_url"], p["flows"], timeout=p["timeout"], email_domain=p["email_domain"],
                           password=p["password"], email=p["email"], call=partial(request, tls=tls_options(p)))
    except ValueError as exc:
        module.fail_json(msg=str(exc), flows=[], passed=False, summary=str(exc))
    if p["fail_on_error"] and not result["passed"]:
        module.fail_json(msg=result["summary"], changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
