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
  - With O(replace=plain), one C(docker compose) call per stage (and one C(ps) when it fails), where
    M(community.docker.docker_compose_v2) makes five. Side by side adds the calls that plan it (a dry run, the
    project's configuration and containers) and one C(docker stop) and C(docker rm) per old container.
  - >-
    With O(replace=side_by_side), a service that is to be recreated and may run twice is replaced without a gap:
    its new container is started beside the running one (C(--scale <service>=2 --no-recreate)) and waited on
    until healthy; only then is the old one stopped (O(stop_timeout) between its stop signal and SIGKILL, as the
    plain way gives it) and removed. A service that must not run twice is replaced the plain way, and
    RV(replaced) says why: it is in O(singletons), publishes a port on the host, has a fixed container name,
    shares a network namespace, writes to a volume or bind mount, or does not run as one serving container.
    When a new container does not become healthy, it is removed and the old one, never stopped, goes on serving.
  - >-
    Side by side, requests reach both containers while they run together (Docker's DNS answers the service's
    name with both); the old one leaves the rotation when it stops listening. The service should stop accepting
    connections on its stop signal and finish the requests it has, as most servers do.
  - >-
    With O(replace=side_by_side), a stage whose dry run says every container of its services is C(Running) and
    would change nothing (nothing recreated, started or removed), and whose containers all run healthy, is left as
    it is: no C(docker compose up --wait). Output the dry run cannot be read from changes nothing: the stage then
    runs as usual.
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
  replace:
    description:
      - How a container that is to be recreated is replaced. C(plain) is Compose's own (stop, then start the new
        one); C(side_by_side) starts the new one beside it first, for the services that may run twice. Check mode
        plans the plain way.
    type: str
    choices: [plain, side_by_side]
    default: plain
  singletons:
    description: Services that must never run twice at once (a consumer that is not safe to double, a singleton
      worker); O(replace=side_by_side) replaces them the plain way.
    type: list
    elements: str
    default: []
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
replaced:
  description: How each service that was to be recreated was replaced; C(plain) with why it could not be
    replaced side by side (empty with O(replace=plain)).
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: The service.
      type: str
    how:
      description: C(side_by_side) or C(plain).
      type: str
    why:
      description: Why not side by side (C(plain) only).
      type: str
    old:
      description: The container that served until its replacement was healthy (C(side_by_side) only).
      type: str
    killed:
      description: Present (true) when the old container did not exit on its stop signal and was killed at the end
        of O(stop_timeout); a warning says so too. It served beside the new one until then.
      type: bool
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

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.backup import compose_options
from ansible_collections.runbook.rollback.plugins.module_utils.compose import (
    ComposeRunError,
    compose_error,
    compose_run,
    docker_run,
    dry_run_changes,
    dry_run_recreated,
    dry_run_states,
    parse_ps,
    problems,
    side_by_side_plan,
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
            replace=dict(type="str", choices=["plain", "side_by_side"], default="plain"),
            singletons=dict(type="list", elements="str", default=[]),
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
    actions, replaced = [], []
    if p["replace"] == "side_by_side" and not module.check_mode:
        plan = plan_side_by_side(p)
        if plan.get("as_is"):
            # Nothing to recreate, start or remove, every container running and healthy: `up --wait` would only
            # find them so (Procedure B's restart after the prepared start, a stage the release did not change).
            module.exit_json(changed=False, actions=[], replaced=[])
        replaced = [{"service": svc, "how": "plain", "why": why} for svc, why in plan["plain"].items()]
        if plan["side_by_side"]:
            actions = side_by_side(module, p, plan["side_by_side"], shut_down, replaced)
    # Every service of the stage the plain way: what is left to recreate or start, and a wait on all of them (the
    # services replaced side by side are up to date by now: nothing is done to them).
    shut_down(actions)
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
    actions = actions + up_actions(up.stderr)
    if up.returncode == 0:
        module.exit_json(changed=bool(actions), actions=actions, replaced=replaced)
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
                     changed=bool(actions), actions=actions, problems=found, replaced=replaced)  # fmt: skip


def plan_side_by_side(p):
    """Which of the stage's services to replace side by side (side_by_side_plan); none when the project cannot be
    read (its plain `up` then says what is wrong)."""
    none = {"side_by_side": {}, "plain": {}}
    try:
        dry = compose_run(p["compose_argv"], p["compose_env"], ["up", "--dry-run", "--detach", "--no-deps",
                                                                "--no-build", "--pull", "never"]
                          + (["--remove-orphans"] if p["remove_orphans"] else []) + ["--"] + p["services"])
        ps = compose_run(p["compose_argv"], p["compose_env"], ["ps", "--all", "--format", "json"])
        if dry.returncode != 0 or ps.returncode != 0:
            return none
        containers = parse_ps(ps.stdout)
        # Left as it is only on the dry run's word for each container (output it cannot read changes nothing).
        states = dry_run_states(dry.stderr)
        mine = [c for c in containers if c.get("service") in p["services"]]
        if (mine and not dry_run_changes(dry.stderr) and not problems(containers, p["services"])
                and all(states.get(c.get("name")) == "Running" for c in mine)):
            return dict(none, as_is=True)
        config = compose_run(p["compose_argv"], p["compose_env"], ["config", "--format", "json"])
    except (ComposeRunError, ValueError):
        return none
    if config.returncode != 0:
        return none
    try:
        plan = side_by_side_plan(json.loads(config.stdout), containers, dry_run_recreated(dry.stderr),
                                 p["services"], p["singletons"])  # fmt: skip
    except ValueError:
        return none
    # A volume the image declares (no compose line names it) is state too: its container is replaced the plain way.
    for svc, old in list(plan["side_by_side"].items()):
        try:
            mounts = _docker(p, "inspect", "--format", "{{json .Mounts}}", old)
            if mounts.returncode != 0:
                raise ValueError(mounts.stderr)
            written = [str(m.get("Name") or m.get("Destination")) for m in json.loads(mounts.stdout or "[]") or []
                       if m.get("Type") == "volume" and m.get("RW")]  # fmt: skip
            why = "writes to volume %s (state of its own)" % ", ".join(written)[:80] if written else ""
        except (ComposeRunError, ValueError, AttributeError):
            why = "its container's mounts could not be read"
        if why:
            del plan["side_by_side"][svc]
            plan["plain"][svc] = why
    return plan


def _docker(p, *args):
    return docker_run(p["compose_env"], args, timeout=p["wait_timeout"] + 120)


def _new_containers(p, old_of):
    """Each side-by-side service's containers other than its old one: {service: [name, ...]}; None when compose
    cannot say."""
    try:
        ps = compose_run(p["compose_argv"], p["compose_env"], ["ps", "--all", "--format", "json"])
        containers = parse_ps(ps.stdout) if ps.returncode == 0 else None
    except (ComposeRunError, ValueError):
        containers = None
    if containers is None:
        return None, []
    new_of = {svc: [c["name"] for c in containers if c["service"] == svc and c["name"] != old]
              for svc, old in old_of.items()}  # fmt: skip
    return new_of, containers


def _remove(p, names):
    """Remove these containers at once; the names that could not be removed."""
    left = []
    for name in names:
        try:
            gone = _docker(p, "rm", "--force", name).returncode == 0
        except ComposeRunError:
            gone = False
        if not gone:
            left.append(name)
    return left


def side_by_side(module, p, old_of, shut_down, replaced):
    """Start each service's new container beside its old one, wait until they are healthy, then stop each old one
    (O(stop_timeout) after its stop signal, as the plain way gives it) and remove it. When the new ones do not become
    healthy they go, and the old ones, never stopped, serve on; the message says what is left if they could not."""
    args = ["up", "--detach", "--no-color", "--no-deps", "--no-build", "--pull", "never", "--no-recreate",
            "--wait", "--wait-timeout", str(p["wait_timeout"])]  # fmt: skip
    for svc in old_of:
        args += ["--scale", "%s=2" % svc]
    args += ["--"] + list(old_of)
    shut_down()
    try:
        up = compose_run(p["compose_argv"], p["compose_env"], args, timeout=p["wait_timeout"] + 120)
        error = "" if up.returncode == 0 else (compose_error(up.stderr) or "exit %d" % up.returncode)
        actions = up_actions(up.stderr)
    except ComposeRunError as exc:
        error, actions = str(exc), []
    new_of, containers = _new_containers(p, old_of)
    if error or new_of is None:
        fresh = [c for c in containers if c["name"] not in old_of.values()]
        found = problems(fresh, list(old_of)) if containers else []
        if new_of is None:
            outcome = "compose could not list the containers: a new one may run beside %s" % ", ".join(old_of.values())
        else:
            left = _remove(p, [name for names in new_of.values() for name in names])
            outcome = ("the new container%s removed; %s, never stopped, serve%s on" % (
                "s" if len(old_of) > 1 else "", ", ".join(old_of.values()), "" if len(old_of) > 1 else "s")
                if not left else "%s could not be removed and run%s beside %s" % (
                    ", ".join(left), "s" if len(left) == 1 else "", ", ".join(old_of.values())))  # fmt: skip
        shut_down(actions, found)
        module.fail_json(msg="; ".join(part for part in (", ".join(found), outcome, "compose: " + error[:300] if error
                                                         else "") if part),
                         changed=True, actions=actions, problems=found, replaced=replaced)  # fmt: skip
    for svc, old in old_of.items():
        # Procedure D's mark: nothing more is done (D stops every container of the project itself).
        shut_down(actions)
        killed = False
        try:
            stopped = _docker(p, "stop", "--time", str(p["stop_timeout"]), old)
            killed = stopped.returncode == 0 and _killed(p, old)
            removed = _docker(p, "rm", old) if stopped.returncode == 0 else stopped
            why = " ".join(removed.stderr.split())[:300] if removed.returncode != 0 else ""
        except ComposeRunError as exc:
            why = str(exc)
        if why:
            module.fail_json(msg="%s: its new container %s is healthy, but the old one %s could not be removed: %s"
                             % (svc, ", ".join(new_of[svc]), old, why),
                             changed=True, actions=actions, problems=[], replaced=replaced)  # fmt: skip
        actions.append({"what": "container", "id": old, "status": "Removed"})
        replaced.append({"service": svc, "how": "side_by_side", "old": old})
        if killed:
            replaced[-1]["killed"] = True
            module.warn("%s: the old container %s did not exit on its stop signal and was killed after %ds; it served "
                        "beside %s until then. Its process should exit on that signal (SIGTERM, or the service's "
                        "stop_signal)." % (svc, old, p["stop_timeout"], ", ".join(new_of[svc])))
    return actions


def _killed(p, name):
    """Whether a stopped container was killed at the end of its stop timeout (exit 137, not by the kernel's OOM
    killer) rather than exiting on its stop signal; False when the engine cannot say."""
    try:
        state = _docker(p, "inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", name)
    except ComposeRunError:
        return False
    return state.returncode == 0 and state.stdout.split() == ["137", "false"]


if __name__ == "__main__":
    main()
