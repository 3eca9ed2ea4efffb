#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_info
short_description: What a compose project defines, what runs, and what is wrong with it
description:
  - Lists the project's containers (C(docker compose ps --all)) and says, for each service expected, whether it
    is running and, where it has a healthcheck, healthy.
  - The services expected are O(services) when given, else every service the compose files define
    (C(docker compose config --services)).
  - One module call where the roles used two C(docker compose) commands and several filters; preflight, the
    verification and the known state a failed procedure leaves behind all read the stack through it.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.compose
attributes:
  check_mode:
    support: full
    details: Read-only; it reads the project in check mode too.
options:
  compose_argv:
    required: true
  services:
    description:
      - The services expected to run. Omitted, every service the compose files define.
    type: list
    elements: str
  down_times:
    description:
      - Also read how long each container has been down, from the engine's own record (C(docker inspect)), into
        each container's C(down_seconds). Exited, dead or restarting counts since its last exit; running unhealthy
        since its first failed check after the last one that passed.
      - What assess needs for the runbook's "critical service down over 5 minutes" where its samples are shorter.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the stack
  runbook.rollback.compose_info:
    compose_argv: "{{ rollback_compose_argv }}"
    compose_env: "{{ rollback_compose_env }}"
  register: stack

- name: Fail when a service is down
  ansible.builtin.assert:
    that: stack.problems | length == 0
    fail_msg: "{{ stack.problems | join('; ') }}"
"""

RETURN = r"""
services:
  description: The services expected (O(services), or every service the compose files define).
  returned: success
  type: list
  elements: str
  sample: [postgres, proxy]
containers:
  description: The project's containers, as the collection's C(compose_ps) filter gives them.
  returned: success
  type: list
  elements: dict
  contains:
    service:
      description: The compose service.
      type: str
    name:
      description: The container's name.
      type: str
    image:
      description: The container's image.
      type: str
    state:
      description: C(running), C(exited), C(restarting), C(created)...
      type: str
    health:
      description: C(healthy), C(unhealthy), C(starting), or empty without a healthcheck.
      type: str
    exit_code:
      description: The exit code of an exited container.
      type: int
    down_seconds:
      description: With O(down_times), how long the container has been down (null while it is up).
      type: float
problems:
  description: One line per expected service that is not running, or not healthy; empty when all are.
  returned: success
  type: list
  elements: str
  sample: ["payments: exited (code 1)", "redis: no container"]
state:
  description: Service -> C(version) (the tag of its image) and C(state), for every container and expected service
    (C(missing) when it has no container).
  returned: success
  type: dict
  sample: {proxy: {version: v1.2.3, state: healthy}}
state_line:
  description: RV(state) as one line, for messages.
  returned: success
  type: str
  sample: proxy v1.2.3 healthy, payments v1.2.5 exited (code 1)
"""

import json
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.backup import compose_options
from ansible_collections.runbook.rollback.plugins.module_utils.compose import (
    ComposeRunError,
    compose_error,
    compose_run,
    down_since,
    parse_ps,
    problems,
    stack_state,
    stack_state_line,
)


def compose(module, *args, argv=None, label="docker compose"):
    """stdout of one docker compose command of the project (with ``argv`` ["docker"], of the engine's own
    command line); fails the module with its error."""
    try:
        proc = compose_run(argv or module.params["compose_argv"], module.params["compose_env"], args, label=label)
    except ComposeRunError as exc:
        module.fail_json(msg=str(exc))
    if proc.returncode != 0:
        error = compose_error(proc.stderr) or "exit %d" % proc.returncode
        module.fail_json(msg="%s %s: %s" % (label, args[0], error[:500]))
    return proc.stdout


def main():
    module = AnsibleModule(
        argument_spec=dict(
            compose_options(required=True, database=False),
            services=dict(type="list", elements="str"),
            down_times=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    services = module.params["services"]
    if services is None:
        services = [line.strip() for line in compose(module, "config", "--services").splitlines() if line.strip()]
    try:
        containers = parse_ps(compose(module, "ps", "--all", "--format", "json"))
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if module.params["down_times"] and containers:
        try:
            inspected = json.loads(compose(module, "inspect", *[c["name"] for c in containers], argv=["docker"],
                                           label="docker"))  # fmt: skip
        except ValueError as exc:
            module.fail_json(msg="docker inspect: %s" % exc)
        now = time.time()
        entries = [entry for entry in inspected if isinstance(entry, dict)]
        for container in containers:
            entry = next((e for e in entries if str(e.get("Name") or "").lstrip("/") == container["name"]), None)
            moment = down_since(entry) if entry else None
            container["down_seconds"] = round(max(0.0, now - moment), 3) if moment is not None else None
    state = stack_state(containers, services)
    module.exit_json(
        changed=False,
        services=services,
        containers=containers,
        problems=problems(containers, services),
        state=state,
        state_line=stack_state_line(state),
    )


if __name__ == "__main__":
    main()
