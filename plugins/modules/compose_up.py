#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_up
short_description: Start some services of a compose project and wait until they are healthy
description:
  - One stage of a staged restart. Runs C(docker compose up --detach --wait) for the services named, and nothing
    else (C(--no-deps)). It never builds or pulls, recreates only the containers whose image or configuration
    changed, and waits for every one of them to be running and, where it has a healthcheck, healthy.
  - Before it starts anything it looks for O(shutdown_mark), Procedure D's mark, and fails without starting
    anything when it exists. When the stage fails and the mark has appeared meanwhile (Procedure D stopped the
    containers it was waiting on), it fails with Procedure D's shutdown as the reason.
  - When a service does not become healthy in time it fails with each service's problem (exited with its code,
    unhealthy, restarting, no container) and the end of Compose's error.
  - One C(docker compose) call per stage (and one C(ps) when it fails), where M(community.docker.docker_compose_v2)
    makes five; the staged restart runs it once per stage of every rollback.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.compose
attributes:
  check_mode:
    support: full
    details: Runs C(docker compose up --dry-run) and reports what it would create, recreate or start.
options:
  compose_argv:
    required: true
  services:
    description: The services to start, in no particular order (Compose starts them together).
    type: list
    elements: str
    required: true
  wait_timeout:
    description: Seconds to wait for the services to be running and healthy.
    type: int
    default: 300
  stop_timeout:
    description: Seconds a container that is replaced gets between its stop signal and SIGKILL.
    type: int
    default: 10
  remove_orphans:
    description: Also remove the containers of services the compose files no longer define.
    type: bool
    default: false
  shutdown_mark:
    description: A file whose presence means the project was shut down on purpose (Procedure D); nothing is
      started while it exists.
    type: path
  stack:
    description: The stack's name in messages (the inventory's project name); by default the C(--project-name)
      of O(compose_argv), else C(the project).
    type: str
"""

EXAMPLES = r"""
- name: Start the core stage and wait for it
  runbook.rollback.compose_up:
    compose_argv: "{{ rollback_compose_argv }}"
    compose_env: "{{ rollback_compose_env }}"
    services: [api, worker, payments]
    wait_timeout: 180
    shutdown_mark: "{{ rollback_shutdown_file }}"
"""

RETURN = r"""
actions:
  description: What Compose did to each resource, in order (changes only, not C(Running) or C(Healthy)).
  returned: always
  type: list
  elements: dict
  contains:
    what:
      description: C(container), C(network) or C(volume).
      type: str
    id:
      description: The resource's name, for example C(app-api-1).
      type: str
    status:
      description: The last change seen, for example C(Recreated) or C(Started).
      type: str
shut_down:
  description: Whether it failed because O(shutdown_mark) exists (before it started anything, or once Procedure D
    stopped the stage's containers while it waited on them).
  returned: failure
  type: bool
problems:
  description: Each service's problem when the stage failed, for example C(payments) exited with its code.
  returned: failure
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.backup import compose_options
from ansible_collections.runbook.rollback.plugins.module_utils.compose import (
    ComposeRunError,
    compose_error,
    compose_run,
    problems,
    up_actions,
)


def project_of(argv):
    """The project name in a compose command line (``--project-name X``, ``-p X`` or ``--project-name=X``)."""
    for i, arg in enumerate(argv):
        if arg in ("--project-name", "-p") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--project-name="):
            return arg.split("=", 1)[1]
    return "the project"


def main():
    module = AnsibleModule(
        argument_spec=dict(
            compose_options(required=True, database=False),
            services=dict(type="list", elements="str", required=True),
            wait_timeout=dict(type="int", default=300),
            stop_timeout=dict(type="int", default=10),
            remove_orphans=dict(type="bool", default=False),
            shutdown_mark=dict(type="path"),
            stack=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["services"]:
        module.fail_json(msg="services must name at least one service")

    def shut_down(actions=(), found=()):
        """Procedure D's mark is there: say so, whatever else failed."""
        if p["shutdown_mark"] and os.path.exists(p["shutdown_mark"]):
            module.fail_json(
                msg="Procedure D shut %s down during this run; nothing more is started until procedure_d.yml "
                    "-e clear=true" % (p["stack"] or project_of(p["compose_argv"])),
                changed=bool(actions), actions=list(actions), problems=list(found), shut_down=True,
            )  # fmt: skip

    shut_down()
    args = [
        "up", "--detach", "--no-color", "--no-deps", "--no-build", "--pull", "never",
        "--wait", "--wait-timeout", str(p["wait_timeout"]), "--timeout", str(p["stop_timeout"]),
    ]  # fmt: skip
    if p["remove_orphans"]:
        args.append("--remove-orphans")
    if module.check_mode:
        args.append("--dry-run")
    args += ["--"] + p["services"]
    try:
        up = compose_run(p["compose_argv"], p["compose_env"], args, timeout=p["wait_timeout"] + 120)
    except ComposeRunError as exc:
        module.fail_json(msg=str(exc), actions=[], problems=[])
    actions = up_actions(up.stderr)
    if up.returncode == 0:
        module.exit_json(changed=bool(actions), actions=actions)
    found = []
    try:
        ps = compose_run(p["compose_argv"], p["compose_env"], ["ps", "--all", "--format", "json"])
    except ComposeRunError:
        ps = None
    if ps is not None and ps.returncode == 0:
        try:
            found = problems(ps.stdout, p["services"])
        except ValueError:
            found = []
    # Procedure D does not wait for the lock: when it stopped this stage's containers while `up` waited on
    # them, its mark (written before it stops anything) is the reason, not the containers' exit codes.
    shut_down(actions, found)
    error = compose_error(up.stderr) or "exit %d" % up.returncode
    module.fail_json(msg="; compose: ".join(part for part in (", ".join(found), error[:300]) if part),
                     changed=bool(actions), actions=actions, problems=found)  # fmt: skip


if __name__ == "__main__":
    main()
