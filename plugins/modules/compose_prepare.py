#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_prepare
short_description: Create a release's containers before a stop, start them right after it
description:
  - For a restart that must stop the running services first (Procedure B swaps the database under them), the
    time users wait is the time from the stop to the new containers being healthy. This module takes out of
    that time all that can be done before the stop.
  - >-
    With O(state=created), while the running release serves, it creates (never starts) each service's new
    container beside the running one, from the compose files as they are at O(commit) in the work tree
    O(repo), which it does not check out: the tree stays where it is until the stop. The containers are
    Compose's own, with the release's configuration, so a later C(docker compose up) of the checked-out
    release finds them up to date. A service that cannot have a second container (a fixed container name, the
    namespace of another container, several containers) or keeps running through the stop (O(running)) is
    left to Compose after the stop, and RV(later) says why. Containers created and never started by an earlier
    run that did not finish are removed first.
  - >-
    With O(state=started), after the stop, it starts O(stages) in order: for each stage, the old containers
    of its prepared services are removed (stopped first, with O(stop_timeout), if something started them), the
    new ones and the stopped containers that are the release's already are started together, and the stage
    is waited on until each is running and passes its healthcheck. It runs the container's own healthcheck
    command at once and then every O(poll) seconds (the engine runs it only at its interval, a second or more
    after the start), or takes the engine's word when it says healthy first. It stops before the first stage
    that holds a service left to Compose (RV(remaining)): the staged restart that follows starts it in order.
  - With O(state=absent), it removes the prepared containers that were never started (a run that fails
    before its stop).
  - Uses the C(docker) and C(docker compose) commands of the host it runs on.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.compose
attributes:
  check_mode:
    support: full
    details: With O(state=created), says what it would prepare and creates nothing; otherwise it changes nothing.
options:
  compose_argv:
    required: true
  state:
    description: C(created) before the stop, C(started) after it, C(absent) when the stop does not happen.
    type: str
    choices: [created, started, absent]
    default: created
  services:
    description: The services to prepare (O(state=created)).
    type: list
    elements: str
    default: []
  running:
    description: The services that keep running through the stop (the data services, the edge); never created
      twice (O(state=created)).
    type: list
    elements: str
    default: []
  leave:
    description: Services to leave to Compose after the stop, each with why (O(state=created)); for example those
      built without an image name, whose name points at the release's build only once the stop is over.
    type: dict
    default: {}
  repo:
    description: The git work tree of the compose files (O(state=created)).
    type: path
  commit:
    description: The commit whose compose files the new containers are created from (O(state=created)). Every
      C(--file) of O(compose_argv) inside O(repo) is read at it; files outside O(repo) are used as they are.
    type: str
  check:
    description:
      - >-
        A command to run once from the release's configuration before anything is created (O(state=created)), in
        a one-off container of C(service) (C(docker compose run --rm --no-deps)), with C(env) added to its
        environment (Procedure B's migration status, pointed at the restored copy). Its result is RV(check); it
        does not fail the module.
      - "Keys: C(service), C(command) (argv), C(env) (dict)."
    type: dict
  prepared:
    description: RV(prepared) of the O(state=created) call (O(state=started) and O(state=absent)).
    type: dict
    default: {}
  as_is:
    description: RV(as_is) of the O(state=created) call (O(state=started)).
    type: list
    elements: str
    default: []
  stages:
    description: The stages in order (O(state=started)), each a dict with C(name), C(services) and an optional
      C(timeout) (seconds; else O(wait_timeout)).
    type: list
    elements: dict
    default: []
  wait_timeout:
    description: Seconds a stage gets to be healthy.
    type: int
    default: 300
  stop_timeout:
    description: Seconds an old container that runs again gets between its stop signal and SIGKILL.
    type: int
    default: 10
  shutdown_mark:
    description: Procedure D's mark (O(state=started)); while it exists nothing is started, and the module fails
      with RV(shut_down).
    type: path
  poll:
    description: Seconds between two health checks of a starting container.
    type: float
    default: 0.1
"""

EXAMPLES = r"""
- name: Create the release's containers beside the running ones
  runbook.rollback.compose_prepare:
    compose_argv: "{{ rollback_compose_argv }}"
    compose_env: "{{ rollback_compose_env }}"
    repo: "{{ rollback_app_dir }}"
    commit: "{{ rollback_release.commit }}"
    services: [api, worker, web]
    running: [postgres, redis]
  register: prepared

- name: After the stop, start them stage by stage
  runbook.rollback.compose_prepare:
    compose_argv: "{{ rollback_compose_argv }}"
    compose_env: "{{ rollback_compose_env }}"
    state: started
    prepared: "{{ prepared.prepared }}"
    as_is: "{{ prepared.as_is }}"
    stages: [{name: core, services: [api, worker]}, {name: edge, services: [web]}]
"""

RETURN = r"""
prepared:
  description: Each prepared service's new container and the old one it replaces (C(null) when it had none).
  returned: always
  type: dict
  sample: {api: {new: app-api-2, old: app-api-1}}
as_is:
  description: The services whose container is the release's already (started as it is).
  returned: state=created
  type: list
  elements: str
later:
  description: The services left to Compose after the stop, and why.
  returned: state=created
  type: dict
check:
  description: What O(check) gave, C(rc), C(stdout), C(stderr), C(stdout_lines) and C(stderr_lines).
  returned: state=created with O(check)
  type: dict
started:
  description: The services started, in order.
  returned: state=started
  type: list
  elements: str
seconds:
  description: How long each stage took, from its first stop or start to its last container healthy.
  returned: state=started
  type: dict
  sample: {core: 0.9, edge: 0.7}
remaining:
  description: The names of the stages not started (from the first that holds a service left to Compose).
  returned: state=started
  type: list
  elements: str
actions:
  description: What was done to each container, as M(runbook.rollback.compose_up) reports it (C(Created),
    C(Removed), C(Started)).
  returned: always
  type: list
  elements: dict
replaced:
  description: Each prepared service that replaced an old container, as M(runbook.rollback.compose_up) reports
    it, with C(how) C(prepared).
  returned: state=started
  type: list
  elements: dict
shut_down:
  description: Whether it failed because O(shutdown_mark) exists.
  returned: failure
  type: bool
problems:
  description: Each container's problem when a stage failed.
  returned: failure
  type: list
  elements: str
"""

import json
import os
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.backup import compose_options
from ansible_collections.runbook.rollback.plugins.module_utils.compose import (
    ComposeRunError,
    compose_error,
    compose_run,
    created_after,
    docker_run,
    dry_run_recreated,
    healthcheck_argv,
    parse_ps,
    prepare_plan,
    release_argv,
    run_together,
)


def _docker(p, *args, timeout=120):
    return docker_run(p["compose_env"], args, timeout=timeout)


def _first(text, default):
    return " ".join((text or "").split())[:300] or default


def project_containers(p, argv=None):
    ps = compose_run(argv or p["compose_argv"], p["compose_env"], ["ps", "--all", "--format", "json"])
    if ps.returncode != 0:
        raise ComposeRunError("docker compose ps: " + _first(ps.stderr, "exit %d" % ps.returncode))
    return parse_ps(ps.stdout)


def remove_unstarted(p, containers, services):
    """Remove the containers of ``services`` that were created and never started; their names."""
    names = [c["name"] for c in containers if c.get("service") in services and c.get("state") == "created"]
    if names:
        rm = _docker(p, "rm", "--force", *names)
        if rm.returncode != 0:
            raise ComposeRunError("docker rm: " + _first(rm.stderr, "exit %d" % rm.returncode))
    return names


def created(module, p):
    for key in ("repo", "commit"):
        if not p[key]:
            module.fail_json(msg="state=created needs %s" % key)
    workdir = tempfile.mkdtemp(prefix="rollback-prepare-")
    actions, check = [], None
    try:
        argv = release_argv(p["compose_argv"], p["repo"], p["commit"], workdir)
        if not module.check_mode:
            leftovers = remove_unstarted(p, project_containers(p), set(p["services"]))
            actions += [{"what": "container", "id": n, "status": "Removed"} for n in leftovers]
        config = compose_run(argv, p["compose_env"], ["config", "--format", "json"])
        if config.returncode != 0:
            raise ComposeRunError("the release's compose files: " + _first(config.stderr, "exit %d"
                                                                           % config.returncode))  # fmt: skip
        # What would be recreated: `create`, not `up`, whose dry run waits on dependencies that are stopped (a run
        # that died after its stop) and fails.
        dry = compose_run(argv, p["compose_env"], ["create", "--dry-run", "--no-build", "--pull", "never", "--"]
                          + p["services"])  # fmt: skip
        if dry.returncode != 0:
            raise ComposeRunError("docker compose create --dry-run: " + _first(compose_error(dry.stderr), "failed"))
        if p["check"]:
            check = run_check(p, argv)
        containers = project_containers(p)
        plan = prepare_plan(json.loads(config.stdout), containers, dry_run_recreated(dry.stderr), p["services"],
                            p["running"])  # fmt: skip
        # Left to Compose whatever the plan says: created now, or started as it is, such a service would run what
        # its name points at before the stop.
        for svc, why in (p["leave"] or {}).items():
            if svc in plan["prepare"] or svc in plan["as_is"]:
                plan["prepare"].pop(svc, None)
                plan["as_is"] = [s for s in plan["as_is"] if s != svc]
                plan["later"][svc] = str(why)
        prepared = {}
        if plan["prepare"] and not module.check_mode:
            args = ["create", "--no-recreate", "--no-build", "--pull", "never"]
            for svc, old in plan["prepare"].items():
                if old:
                    args += ["--scale", "%s=2" % svc]
            made = compose_run(argv, p["compose_env"], args + ["--"] + list(plan["prepare"]), timeout=600)
            if made.returncode != 0:
                # What it created before it failed goes too.
                left = remove_unstarted(p, project_containers(p), set(p["services"]))
                raise ComposeRunError("docker compose create: %s; removed: %s" % (
                    _first(compose_error(made.stderr), "failed"), ", ".join(left) or "none"))  # fmt: skip
            new = created_after(project_containers(p), plan["prepare"])
            missing = sorted(set(plan["prepare"]) - set(new))
            prepared = {svc: {"new": name, "old": plan["prepare"][svc]} for svc, name in new.items()}
            actions += [{"what": "container", "id": name, "status": "Created"} for name in new.values()]
            if missing:
                left = remove_unstarted(p, project_containers(p), set(p["services"]))
                module.fail_json(msg="no new container to be found for %s after docker compose create; removed: %s"
                                 % (", ".join(missing), ", ".join(left) or "none"), changed=True,
                                 actions=actions, prepared={})  # fmt: skip
        elif module.check_mode:
            prepared = {svc: {"new": None, "old": old} for svc, old in plan["prepare"].items()}
    except (ComposeRunError, ValueError) as exc:
        module.fail_json(msg=str(exc), changed=bool(actions), actions=actions, prepared={})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = dict(changed=bool(actions), actions=actions, prepared=prepared, as_is=plan["as_is"], later=plan["later"])
    if check is not None:
        result["check"] = check
    module.exit_json(**result)


def run_check(p, argv):
    """O(check), run once in a one-off container of the release's configuration."""
    spec = p["check"]
    if not spec.get("service") or not spec.get("command"):
        raise ComposeRunError("check needs service and command")
    args = ["run", "--rm", "--no-deps", "-T"]
    for key, value in sorted((spec.get("env") or {}).items()):
        args += ["-e", "%s=%s" % (key, value)]
    proc = compose_run(argv, p["compose_env"], args + [spec["service"]] + [str(a) for a in spec["command"]],
                       timeout=600)  # fmt: skip
    return {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr,
            "stdout_lines": proc.stdout.splitlines(), "stderr_lines": proc.stderr.splitlines()}  # fmt: skip


def inspect(p, names):
    """{name: docker inspect of it} for the containers that exist."""
    out = _docker(p, "inspect", *names)
    try:
        return {c["Name"].lstrip("/"): c for c in json.loads(out.stdout or "[]")}
    except ValueError:
        return {}


def wait_healthy(p, names, timeout):
    """Wait until every container runs and passes its healthcheck; its problems ([] when all are healthy)."""
    deadline = time.monotonic() + timeout
    pending = list(names)
    problems = []
    while pending:
        found = inspect(p, pending)
        checks = {}
        problems = []
        for name in list(pending):
            c = found.get(name)
            state = (c or {}).get("State") or {}
            if not c:
                problems.append("%s: no container" % name)
            elif state.get("Status") in ("exited", "dead"):
                return ["%s: exited (code %s)" % (name, state.get("ExitCode"))]
            elif state.get("Status") != "running":
                problems.append("%s: %s" % (name, state.get("Status") or "state unknown"))
            elif (state.get("Health") or {}).get("Status") == "healthy":
                pending.remove(name)
            else:
                argv = healthcheck_argv(((c.get("Config") or {}).get("Healthcheck") or {}).get("Test"))
                if argv is None:
                    pending.remove(name)
                else:
                    checks[name] = ["docker", "exec", name] + argv
        ran = run_together(checks.values(), p["compose_env"], max(1, int(deadline - time.monotonic())))
        for name, (rc, _unused) in zip(checks, ran, strict=True):
            if rc == 0:
                pending.remove(name)
            else:
                problems.append("%s: health starting" % name)
        if not pending:
            return []
        if time.monotonic() > deadline:
            return problems or ["%s: not healthy" % n for n in pending]
        time.sleep(p["poll"])
    return []


def started(module, p):
    prepared = p["prepared"] or {}
    as_is = set(p["as_is"])
    actions, replaced, done, seconds = [], [], [], {}
    try:
        containers = project_containers(p)
    except (ComposeRunError, ValueError) as exc:
        module.fail_json(msg=str(exc), actions=[], prepared=prepared)
    by_service = {}
    for c in containers:
        by_service.setdefault(c.get("service"), []).append(c)
    stages = list(p["stages"])
    state_of = {c.get("name"): c.get("state") for c in containers}
    # The old containers that have stopped already (Procedure B's stop) go at once, in one call; one that runs is
    # stopped with its grace period just before its stage starts.
    gone = [v["old"] for s, v in prepared.items() if v.get("old") and state_of.get(v["old"]) not in (None, "running")
            and any(s in (stage.get("services") or []) for stage in stages)]  # fmt: skip
    shut_down(module, p, actions)
    if gone:
        try:
            rm = _docker(p, "rm", *gone)
            if rm.returncode != 0:
                raise ComposeRunError(_first(rm.stderr, "failed"))
        except ComposeRunError as exc:
            module.fail_json(msg="removing %s: %s" % (", ".join(gone), exc), actions=actions, prepared=prepared)
        actions += [{"what": "container", "id": n, "status": "Removed"} for n in gone]
    for index, stage in enumerate(stages):
        services = list(stage.get("services") or [])
        shut_down(module, p, actions)
        running = [s for s in services if any(c.get("state") == "running" for c in by_service.get(s, []))
                   and s not in prepared]  # fmt: skip
        todo = [s for s in services if s not in running]
        left = [s for s in todo if s not in prepared and s not in as_is]
        if left:
            module.exit_json(changed=bool(actions), actions=actions, replaced=replaced, started=done,
                             prepared=prepared, remaining=[s.get("name") for s in stages[index:]],
                             seconds=seconds)  # fmt: skip
        began = time.monotonic()
        old = [prepared[s]["old"] for s in todo if s in prepared and prepared[s].get("old") not in [None] + gone]
        names = [prepared[s]["new"] if s in prepared else
                 next(c["name"] for c in by_service.get(s, [])) for s in todo]  # fmt: skip
        try:
            if old:
                stop = _docker(p, "stop", "--time", str(p["stop_timeout"]), *old, timeout=p["stop_timeout"] + 120)
                rm = _docker(p, "rm", *old) if stop.returncode == 0 else stop
                if rm.returncode != 0:
                    raise ComposeRunError("removing %s: %s" % (", ".join(old), _first(rm.stderr, "failed")))
                actions += [{"what": "container", "id": n, "status": "Removed"} for n in old]
            begun = run_together([["docker", "start", n] for n in names], p["compose_env"], 120)
            errors = ["%s: %s" % (n, _first(err, "failed")) for n, (rc, err) in zip(names, begun, strict=True)
                      if rc != 0]  # fmt: skip
        except ComposeRunError as exc:
            errors = [str(exc)]
        actions += [{"what": "container", "id": n, "status": "Started"} for n in names]
        found = errors or wait_healthy(p, names, int(stage.get("timeout") or p["wait_timeout"]))
        if found:
            module.fail_json(msg="stage %s (%s) did not become healthy: %s" % (stage.get("name"), ", ".join(services),
                                                                               "; ".join(found)),
                             changed=True, actions=actions, replaced=replaced, started=done, problems=found,
                             prepared=prepared)  # fmt: skip
        done += todo
        seconds[stage.get("name")] = round(time.monotonic() - began, 2)
        replaced += [{"service": s, "how": "prepared", "old": prepared[s]["old"]} for s in todo
                     if s in prepared and prepared[s].get("old")]  # fmt: skip
    module.exit_json(changed=bool(actions), actions=actions, replaced=replaced, started=done, prepared=prepared,
                     remaining=[], seconds=seconds)  # fmt: skip


def shut_down(module, p, actions):
    """Procedure D's mark is there: nothing more is started."""
    if p["shutdown_mark"] and os.path.exists(p["shutdown_mark"]):
        module.fail_json(msg="Procedure D shut the project down during this run; nothing more is started until "
                             "procedure_d.yml -e clear=true", changed=bool(actions), actions=actions,
                         prepared=p["prepared"], shut_down=True)  # fmt: skip


def absent(module, p):
    names = [v.get("new") for v in (p["prepared"] or {}).values() if v.get("new")]
    removed = []
    if names and not module.check_mode:
        found = inspect(p, names)
        unstarted = [n for n in names if ((found.get(n) or {}).get("State") or {}).get("Status") == "created"]
        if unstarted:
            rm = _docker(p, "rm", "--force", *unstarted)
            if rm.returncode != 0:
                module.fail_json(msg="docker rm: " + _first(rm.stderr, "failed"), actions=[], prepared=p["prepared"])
            removed = unstarted
    module.exit_json(changed=bool(removed), actions=[{"what": "container", "id": n, "status": "Removed"}
                                                     for n in removed], prepared={})  # fmt: skip


def main():
    module = AnsibleModule(
        argument_spec=dict(
            compose_options(required=True, database=False),
            state=dict(type="str", choices=["created", "started", "absent"], default="created"),
            services=dict(type="list", elements="str", default=[]),
            running=dict(type="list", elements="str", default=[]),
            repo=dict(type="path"),
            commit=dict(type="str"),
            check=dict(type="dict"),
            leave=dict(type="dict", default={}),
            prepared=dict(type="dict", default={}),
            as_is=dict(type="list", elements="str", default=[]),
            stages=dict(type="list", elements="dict", default=[]),
            wait_timeout=dict(type="int", default=300),
            stop_timeout=dict(type="int", default=10),
            poll=dict(type="float", default=0.1),
            shutdown_mark=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["state"] == "created":
        created(module, p)
    elif p["state"] == "absent":
        absent(module, p)
    elif module.check_mode:
        module.exit_json(changed=False, actions=[], replaced=[], started=[], prepared=p["prepared"],
                         remaining=[s.get("name") for s in p["stages"]])  # fmt: skip
    else:
        started(module, p)


if __name__ == "__main__":
    main()
