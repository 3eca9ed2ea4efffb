#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: smoke_check
short_description: Run the app's smoke flows, written as data, and optionally the team's own smoke command
description:
  - Runs O(steps) in order through the app's front door, as the last verification step of a deploy or rollback. Each
    step is an HTTP request with what it sends, the answer it expects and the values it keeps for the steps after it
    (a token, an id). The steps are the app's own, from the inventory; the module knows no app.
  - "C(${name}) in a step's path, URL, header or JSON string is a variable: C(email) and C(password) (a throwaway
    account made for this run, unique per run so repeated checks and drills do not collide, or the account O(email)),
    C(run) (unique to this run), C(base_url), or one a step before it captured. In a path or URL it is
    percent-encoded. It is not Jinja: the inventory's strings are not templated again."
  - "A step that needs a variable no step gave (the one that captures it failed) fails with C(skipped: no <name>)."
  - With O(command), a smoke script of the team's own runs on the target after the steps (no shell; the base URL in
    its environment as C(SMOKE_BASE_URL)); exit 0 passes, and its output is returned for the incident.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.tls
attributes:
  check_mode:
    support: full
    details: Smoke flows write (accounts, orders), so in check mode nothing is sent and the task is reported as skipped.
options:
  base_url:
    description: Base URL of the app's front door (its gateway or load balancer), for example C(https://app.example.test).
    type: str
    required: true
  steps:
    description:
      - The smoke flows, in order. Each is a mapping with C(name) (unique), C(path) (joined to O(base_url)) or C(url)
        (absolute), and optionally C(method) (default C(GET), or C(POST) with a C(json) body), C(headers), C(json),
        C(status) (an HTTP status or a list of them; default any 2xx), C(expect) (dotted key of the JSON answer to
        the value it must have), C(capture) (variable name to the dotted key of the JSON answer it is read from) and
        C(new_account) (the step creates the throwaway account, left out when O(email) is given) and C(signal) (the
        runbook's critical user flow the step stands for, reported in RV(signals) when it fails; one of
        C(login_broken), C(signup_broken), C(payment_failing), C(chat_broken) or C(data_loss_on_save)).
      - Empty with O(command) set runs the command alone.
    type: list
    elements: dict
    default: []
  only:
    description: Run only the steps of these names (for example the login of a known account).
    type: list
    elements: str
  command:
    description:
      - A smoke command of the team's own, run on the target after the steps, as an argument list (no shell). Exit 0
        passes. Its output (the last 64 KiB of stdout and stderr) is returned in RV(command).
    type: list
    elements: str
  command_chdir:
    description: Directory the command runs in (for example the app's work tree, where the script is).
    type: path
  command_timeout:
    description: Seconds the command may take before it is killed and counted as failed.
    type: float
    default: 300
  timeout:
    description: Seconds per HTTP request.
    type: float
    default: 5
  email_domain:
    description: Domain of the throwaway account's e-mail address.
    type: str
    default: example.test
  password:
    description: Password of the throwaway account (a random one per run by default), or of the account O(email).
    type: str
  email:
    description: Run the steps as this existing account (with its O(password)) instead of a new one, for example a
      known test user whose login proves that restored accounts work. Steps marked C(new_account) are left out.
    type: str
  fail_on_error:
    description: Fail the task (with RV(summary) as message) when a step or the command fails.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Smoke-test the app through its front door
  runbook.rollback.smoke_check:
    base_url: https://app.example.test
    steps:
      - {name: signup, path: /api/users, json: {email: "${email}", password: "${password}"}, status: 201,
         new_account: true}
      - {name: login, path: /api/sessions, json: {email: "${email}", password: "${password}"}, capture: {token: token}}
      - {name: list-orders, path: /api/orders, headers: {Authorization: "Bearer ${token}"}, expect: {count: 0}}
  register: smoke

- name: Run the team's own smoke script from the app's repository, after a health page
  runbook.rollback.smoke_check:
    base_url: http://127.0.0.1:8080
    steps:
      - {name: home, path: /}
    command: [./scripts/smoke-tests.sh, --quick]
    command_chdir: /srv/app
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
      sample: login
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
    - {name: signup, ok: true, status: 201, ms: 35, error: null}
    - {name: login, ok: false, status: 500, ms: 12, error: HTTP 500}
    - {name: list-orders, ok: false, status: null, ms: 0, error: "skipped: no token"}
signals:
  description:
    - The C(signal) of each step that ran and failed (a step skipped for an earlier one's failure reports nothing),
      as M(runbook.rollback.rollback_decision) takes them.
  returned: always
  type: list
  elements: str
  sample: [login_broken]
passed:
  description: Whether every flow passed; null in check mode.
  returned: always
  type: bool
  sample: false
summary:
  description: One line for humans and for the failure message.
  returned: always
  type: str
  sample: "1/3 smoke flows passed; failed: login (HTTP 500), list-orders (skipped: no token)"
email:
  description: E-mail address of the throwaway account, for cleanup.
  returned: when steps ran
  type: str
  sample: smoke-20261128100000-1a2b3c4d@example.test
command:
  description: The smoke command's argument list, exit code (null when it could not start or was killed), seconds and
    output.
  returned: when O(command) is set
  type: dict
  sample: {argv: [./scripts/smoke-tests.sh], rc: 0, seconds: 4.2, output: "12 checks passed"}
"""

import os
import subprocess
import time
from functools import partial

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import TLS_OPTIONS, request, tls_options
from ansible_collections.runbook.rollback.plugins.module_utils.smoke import run_steps, summary

OUTPUT_BYTES = 65536


def run_command(argv, chdir, timeout, base_url):
    """The team's smoke command: (row for the results, what the module returns about it)."""
    env = dict(os.environ, SMOKE_BASE_URL=base_url)
    started = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=chdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout, check=False)  # fmt: skip
        rc, output = proc.returncode, proc.stdout
        error = None if rc == 0 else "exit %d" % rc
    except subprocess.TimeoutExpired as exc:
        rc, output, error = None, exc.stdout or b"", "killed after %g s" % timeout
    except OSError as exc:
        rc, output, error = None, b"", "cannot run %s: %s" % (argv[0], exc.strerror or exc)
    seconds = round(time.monotonic() - started, 1)
    text = output[-OUTPUT_BYTES:].decode("utf-8", errors="replace")
    row = {"name": "command", "ok": error is None, "status": rc, "ms": int(seconds * 1000), "error": error}
    return row, {"argv": argv, "rc": rc, "seconds": seconds, "output": text}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            TLS_OPTIONS,
            base_url=dict(type="str", required=True),
            steps=dict(type="list", elements="dict", default=[]),
            only=dict(type="list", elements="str"),
            command=dict(type="list", elements="str"),
            command_chdir=dict(type="path"),
            command_timeout=dict(type="float", default=300),
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
        module.exit_json(changed=False, skipped=True, flows=[], passed=None, signals=[],
                         summary="check mode: smoke flows not run", msg="check mode: smoke flows not run")
    if p["timeout"] <= 0 or p["command_timeout"] <= 0:
        module.fail_json(msg="timeout and command_timeout must be positive")
    if not p["steps"] and not p["command"]:
        module.fail_json(msg="no smoke steps and no command: give steps, a command, or both")
    result = {"flows": [], "passed": True, "email": None, "signals": []}
    try:
        if p["steps"]:
            result = run_steps(p["base_url"], p["steps"], only=p["only"], timeout=p["timeout"],
                               email_domain=p["email_domain"], password=p["password"], email=p["email"],
                               call=partial(request, tls=tls_options(p)))  # fmt: skip
    except ValueError as exc:
        module.fail_json(msg=str(exc), flows=[], passed=False, summary=str(exc))
    if p["command"]:
        row, result["command"] = run_command(p["command"], p["command_chdir"], p["command_timeout"], p["base_url"])
        result["flows"] = result["flows"] + [row]
        result["passed"] = result["passed"] and row["ok"]
    result["summary"] = summary(result["flows"])
    if p["fail_on_error"] and not result["passed"]:
        module.fail_json(msg=result["summary"], changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
