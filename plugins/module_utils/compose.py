# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers for docker compose: compose-file services, `compose ps` and `compose up` output, and what is
wrong with them; and the one runner of a project's compose commands (compose_run)."""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML
    HAS_YAML = False

_STATUS_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
# A progress line of `docker compose up` in plain output: " Container app-api-1  Recreated".
_UP_EVENT = re.compile(r"^\s*(Container|Network|Volume)\s+(\S+)\s+([A-Z][a-z]+)\s*$")
# What a resource that was left as it was reports; any other status is a change.
_UNCHANGED = frozenset(("Running", "Waiting", "Healthy", "Exited", "Error", "Warning"))


def compose_services(text):
    """Map service name -> {"image": str or None, "build": bool} from compose-file YAML text."""
    if not HAS_YAML:  # pragma: no cover
        raise ValueError("PyYAML is required to parse compose files: install it for the target's Python "
                         "(python3-yaml on Debian and Ubuntu)")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError("not valid YAML: %s" % str(exc).replace("\n", " ")) from None
    if not isinstance(doc, dict):
        raise ValueError("not a compose file (top level is not a mapping)")
    services = doc.get("services")
    if not isinstance(services, dict) or not services:
        raise ValueError("no services defined")
    result = {}
    for name, spec in services.items():
        spec = spec if isinstance(spec, dict) else {}
        image = spec.get("image")
        result[str(name)] = {
            # Left uninterpolated ("${REGISTRY}/api:${VERSION}"): compose resolves it at run time.
            "image": str(image) if image not in (None, "") else None,
            "build": bool(spec.get("build")),
        }
    return result


def built_images(services):
    """Sorted unique image names of services that are built from the checkout: the compose file's name, or a
    build-only service's release image (name_release_builds)."""
    return sorted({s.get("release_image") or s["image"] for s in services.values()
                   if s.get("build") and (s.get("image") or s.get("release_image"))})  # fmt: skip


def name_release_builds(services, project, version):
    """Give each service built without an ``image:`` its release image and the name compose runs it by.

    Compose names such an image ``<project>-<service>`` for every release alike, so a checkout of an older tag
    would go on running the newer build. Each release's build is kept as ``<project>-<service>:<version>``
    (``release_image``); before a restart the collection tags it as ``<project>-<service>`` (``runs_as``), the
    name compose looks for. Returns the services, changed in place."""
    if not project or not version:
        return services
    for name, spec in services.items():
        if spec.get("build") and not spec.get("image"):
            spec["runs_as"] = "%s-%s" % (project, name)
            spec["release_image"] = "%s-%s:%s" % (project, name, version)
    return services


def _health_from_status(status):
    # Compose releases that omit "Health" still show it in the human Status column.
    m = _STATUS_HEALTH.search(status or "")
    if not m:
        return ""
    return "starting" if m.group(1) == "health: starting" else m.group(1)


def _normalise(obj):
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object per container, got %s" % type(obj).__name__)
    status = obj.get("Status") or ""
    health = obj.get("Health")
    if health is None:
        health = _health_from_status(status)
    exit_code = obj.get("ExitCode")
    return {
        "service": obj.get("Service") or "",
        "name": obj.get("Name") or "",
        "image": obj.get("Image") or "",
        "state": (obj.get("State") or "").lower(),
        "health": (health or "").lower(),
        "exit_code": int(exit_code) if isinstance(exit_code, (int, float)) or str(exit_code).isdigit() else None,
        "status": status,
    }


def parse_ps(stdout):
    """Parse `docker compose ps --all --format json`.

    Compose >= 2.21 prints one JSON object per line, older releases one JSON array; both are
    accepted, as is an already-decoded list.
    """
    if stdout is None:
        return []
    if isinstance(stdout, list):
        return [_normalise(o) for o in stdout]
    if not isinstance(stdout, str):
        raise ValueError("expected the stdout string of docker compose ps, got %s" % type(stdout).__name__)
    text = stdout.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError("docker compose ps output is not valid JSON: %s" % exc) from None
        return [_normalise(o) for o in data]
    containers = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            containers.append(_normalise(json.loads(line)))
        except ValueError as exc:
            raise ValueError("docker compose ps output line %d is not a JSON object: %s" % (number, exc)) from None
    return containers


def container_problem(svc, container):
    """One-line problem for a container, or None when it is running and (if it has a healthcheck) healthy."""
    state = container.get("state") or ""
    health = container.get("health") or ""
    if state == "running":
        if health in ("", "healthy"):
            return None
        if health == "starting":
            return "%s: health starting" % svc
        return "%s: %s" % (svc, health) if health == "unhealthy" else "%s: health %s" % (svc, health)
    if state == "exited":
        code = container.get("exit_code")
        return "%s: exited (code %s)" % (svc, code if code is not None else "unknown")
    if state == "restarting":
        return "%s: restarting" % svc
    return "%s: %s" % (svc, state or "state unknown")


def _service_names(services):
    """A list of service names from a list, a single name, or a mapping keyed by name."""
    if isinstance(services, dict):
        return list(services)
    if isinstance(services, str):
        return [services]
    return list(services or [])


def _containers(ps_list):
    return parse_ps(ps_list) if isinstance(ps_list, str) else [
        c if "service" in c else _normalise(c) for c in (ps_list or [])
    ]


def problems(ps_list, expected_services):
    """Problems for the expected services; an empty list means all are up (and healthy where checked)."""
    expected = _service_names(expected_services)
    containers = _containers(ps_list)
    found = []
    for svc in expected:
        mine = [c for c in containers if c.get("service") == svc]
        if not mine:
            found.append("%s: no container" % svc)
            continue
        for c in mine:
            problem = container_problem(svc, c)
            # Scaled services repeat the same problem per replica; one line says it.
            if problem and problem not in found:
                found.append(problem)
    return found


def image_tag(image):
    """The tag of an image reference (``registry:5000/app/api:v1.2.3`` -> ``v1.2.3``).

    An image pinned by digest gives its digest; an untagged name is Docker's ``latest``; no image gives "".
    """
    if not image:
        return ""
    if "@" in image:
        return image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def container_state(container):
    """One word for a container: its health when running with a healthcheck, else its state."""
    state = container.get("state") or "unknown"
    health = container.get("health") or ""
    return health if state == "running" and health else state


def stack_state(ps_list, expected_services=None):
    """Service -> {"version", "state"} for every container of the project, plus every expected service.

    ``version`` is the tag of the container's image (the release it runs); ``state`` is one of healthy,
    unhealthy, starting, running (no healthcheck), restarting, exited (with ``exit_code``), created,
    paused..., or ``missing`` for an expected service without a container. Replicas that disagree are
    joined with commas.
    """
    containers = _containers(ps_list)
    grouped = {}
    for c in containers:
        grouped.setdefault(c.get("service") or c.get("name") or "unknown", []).append(c)
    result = {}
    for svc in sorted(grouped):
        versions, states, codes = [], [], []
        for c in grouped[svc]:
            for value, seen in ((image_tag(c.get("image")), versions), (container_state(c), states)):
                if value not in seen:
                    seen.append(value)
            if c.get("state") == "exited" and c.get("exit_code") is not None and c["exit_code"] not in codes:
                codes.append(c["exit_code"])
        entry = {"version": ", ".join(versions), "state": ", ".join(states)}
        if codes:
            entry["exit_code"] = codes[0] if len(codes) == 1 else codes
        result[svc] = entry
    expected = _service_names(expected_services)
    for svc in expected:
        result.setdefault(svc, {"version": "", "state": "missing"})
    return dict(sorted(result.items()))


def stack_state_line(services):
    """One line from stack_state(): ``proxy v1.2.3 healthy, payments v1.2.5 exited (code 1)``."""
    if not services:
        return "no containers"
    parts = []
    for svc in sorted(services):
        info = services[svc] or {}
        words = [svc]
        if info.get("version"):
            words.append(info["version"])
        state = info.get("state") or "unknown"
        if "exit_code" in info:
            codes = info["exit_code"] if isinstance(info["exit_code"], list) else [info["exit_code"]]
            state += " (code %s)" % ", ".join(str(code) for code in codes)
        words.append(state)
        parts.append(" ".join(words))
    return ", ".join(parts)


def up_actions(stderr):
    """What `docker compose up` changed, from its progress lines: one ``{"what", "id", "status"}`` per resource,
    in the order first seen, with its last change (``Recreated``, ``Started``...). A resource that was only
    found running and healthy is not listed."""
    actions = {}
    for line in (stderr or "").splitlines():
        m = _UP_EVENT.match(line)
        if not m or m.group(3) in _UNCHANGED:
            continue
        key = (m.group(1).lower(), m.group(2))
        actions[key] = m.group(3)
    return [{"what": what, "id": rid, "status": status} for (what, rid), status in actions.items()]


def compose_error(stderr):
    """Compose's own error, one line: what `docker compose up` printed besides its progress lines."""
    lines = []
    for line in (stderr or "").splitlines():
        line = line.strip()
        if line and not _UP_EVENT.match(line):
            lines.append(line)
    return " ".join(" ".join(lines).split())


class ComposeRunError(Exception):
    """docker compose could not be run at all (not installed, or it did not end in time)."""


def compose_run(compose_argv, compose_env, args, timeout=120, label="docker compose"):
    """Run one docker compose command of the project (its command line, then ``args``) with the project's
    environment on top of the module's: the CompletedProcess (text), whatever its exit code. With
    ``compose_argv`` ["docker"] (and ``label`` "docker") it runs a command of the engine the project is on.

    Raises ComposeRunError, with the subcommand named, when compose cannot be run or does not end within
    ``timeout`` seconds."""
    env = dict(os.environ, **{k: str(v) for k, v in (compose_env or {}).items()})
    args = list(args)
    try:
        return subprocess.run(list(compose_argv) + args, env=env, capture_output=True, text=True, check=False,
                              timeout=timeout)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ComposeRunError("%s %s: %s" % (label, args[0] if args else "", exc)) from None


def release_mismatches(containers, config, version):
    """What of the running project is not `version` as its compose files say (adopt.yml): one line per
    container whose image is not the one its service names, in the services' order.

    config: ``docker compose config --format json`` decoded (its ``services``, each with ``image`` where the files
    name one); containers: compose_ps() of the project. A service built without an image name cannot be told
    apart by name, and a container of a service the files do not define is not this release's either."""
    if not isinstance(config, dict) or not isinstance(config.get("services"), dict):
        raise ValueError("expects the decoded output of docker compose config --format json")
    services = config["services"]
    lines = []
    for c in sorted(_containers(containers), key=lambda c: (c.get("service") or "", c.get("name") or "")):
        service = c.get("service") or c.get("name") or "unknown"
        spec = services.get(service)
        if spec is None:
            line = "%s runs, but the compose files at %s do not define it" % (service, version)
        elif spec.get("image") and c.get("image") != spec["image"]:
            line = "%s runs %s, the compose files at %s name %s" % (service, c.get("image"), version, spec["image"])
        else:
            continue
        if line not in lines:
            lines.append(line)
    return lines


# --- How long a container has been down, from the engine's own record (docker inspect) ----------------------
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def engine_time(text):
    """Seconds since the epoch of the engine's RFC 3339 time (nanoseconds allowed); None for none or its zero time."""
    match = _RFC3339.match(str(text or "").strip())
    if not match or match.group(1).startswith("0001-"):
        return None
    fraction = float(match.group(2) or 0)
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.datetime.fromisoformat(match.group(1) + zone).timestamp() + fraction


def down_since(inspected):
    """When the container of one ``docker inspect`` entry went down, in seconds since the epoch; None while up.

    Down is: exited (stopped or crashed: the services a decision weighs are meant to run), dead, restarting (a
    crash loop: since its last exit), or running and unhealthy (since the first failed check after the last one
    that passed, in the health log the engine keeps; the oldest check it keeps when none passed).
    """
    state = (inspected or {}).get("State") or {}
    status = str(state.get("Status") or "").lower()
    if status in ("exited", "dead", "restarting"):
        return engine_time(state.get("FinishedAt"))
    health = state.get("Health") or {}
    if status != "running" or str(health.get("Status") or "").lower() != "unhealthy":
        return None
    log = [entry for entry in health.get("Log") or [] if isinstance(entry, dict)]
    failing = []
    for entry in reversed(log):
        if entry.get("ExitCode") == 0:
            break
        failing.append(entry)
    if not failing:
        return None
    return engine_time(failing[-1].get("Start"))


def with_down_times(services, containers):
    """The decision's services with what the containers say: a service the samples saw down, whose container has
    been down longer than they saw, is down that long. A service the samples saw healthy stays so (another of its
    containers answers). ``containers``: compose_info's, with down_seconds."""
    out = []
    for service in services or []:
        mine = [c for c in containers or [] if c.get("service") == service.get("name")]
        # A figure that went through a template may come as text ("12.5"): read as a number, or left out.
        downs = [_seconds_or_none(c.get("down_seconds")) for c in mine]
        longest = max([d for d in downs if d is not None] or [None], key=_or_zero)
        service = dict(service)
        seen_down = not service.get("healthy", True)
        if seen_down and longest is not None and longest > (_seconds_or_none(service.get("down_seconds")) or 0.0):
            service.update(down_seconds=round(longest, 3))
        out.append(service)
    return out


def _seconds_or_none(value):
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _or_zero(value):
    return -1 if value is None else value


# --- Side by side: a service's new container beside its old one -----------------------------------------------
def docker_run(compose_env, args, timeout=120):
    """One command of the engine a project is on (its environment: DOCKER_HOST and the like), as compose_run."""
    return compose_run(["docker"], compose_env, list(args), timeout=timeout, label="docker")


# A dry run's line for a container it would recreate: "DRY-RUN MODE -  Container app-api-1  Recreate".
_DRY_RECREATE = re.compile(r"Container\s+(\S+)\s+Recreated?\s*$")
_DRY_PREFIX = re.compile(r"^\s*DRY-RUN MODE -\s*")


def dry_run_recreated(stderr):
    """The containers `docker compose up --dry-run` would recreate (their names), in order, once each."""
    found = []
    for line in (stderr or "").splitlines():
        m = _DRY_RECREATE.search(line)
        if m and m.group(1) not in found:
            found.append(m.group(1))
    return found


def _dry_lines(stderr):
    """A dry run's progress lines without their DRY-RUN prefix: what `up` itself would print."""
    return [_DRY_PREFIX.sub("", line) for line in (stderr or "").splitlines()]


def dry_run_states(stderr):
    """Each resource's last status in `docker compose up --dry-run`'s progress lines: ``{name: status}``."""
    return {m.group(2): m.group(3) for m in map(_UP_EVENT.match, _dry_lines(stderr)) if m}


def dry_run_changes(stderr):
    """What `docker compose up --dry-run` would change (up_actions of its progress lines); [] when it would find
    every container as it should be."""
    return up_actions("\n".join(_dry_lines(stderr)))


def _why_not_twice(spec):
    """Why a service's configuration forbids a second container beside the first, or "" when nothing does."""
    # Named by the container's port: the host's often comes from the project's environment, which a module's output
    # masks (compose_env is no_log).
    published = sorted({str(p.get("target")) for p in spec.get("ports") or []
                        if isinstance(p, dict) and p.get("published") not in (None, "", 0, "0")})  # fmt: skip
    if published:
        return "publishes its port%s %s on the host" % ("s" if len(published) > 1 else "", ", ".join(published))
    if spec.get("container_name"):
        return "has a fixed container name (%s)" % spec["container_name"]
    if str(spec.get("network_mode") or "").startswith(("host", "container:", "service:")):
        return "shares a network namespace (network_mode %s)" % spec["network_mode"]
    if spec.get("mac_address"):
        return "has a fixed MAC address"
    networks = spec.get("networks") if isinstance(spec.get("networks"), dict) else {}
    for name, net in networks.items():
        if isinstance(net, dict) and (net.get("ipv4_address") or net.get("ipv6_address")):
            return "has a fixed address on network %s" % name
    for mount in spec.get("volumes") or []:
        if isinstance(mount, dict) and mount.get("type") in ("volume", "bind") and not mount.get("read_only"):
            what = "volume %s" % mount.get("source") if mount.get("type") == "volume" and mount.get("source") \
                else "%s mount %s" % (mount.get("type"), mount.get("target") or "")  # fmt: skip
            return "writes to %s (state of its own)" % what
    return ""


def side_by_side_plan(config, ps_list, recreate, services, singletons=()):
    """How each of ``services`` that a restart recreates is replaced: side by side (its new container started
    beside the running one, which goes once the new one is healthy) or the plain way (stopped, then recreated),
    and why.

    ``config``: the project's ``docker compose config --format json`` (a dict); ``ps_list``: its containers
    (``compose ps --all --format json``); ``recreate``: the containers a dry run would recreate
    (dry_run_recreated); ``singletons``: the services that must never run twice at once.

    Returns ``{"side_by_side": {service: old container}, "plain": {service: why}}``; a service the restart leaves
    as it is, or only starts, is in neither.
    """
    specs = (config or {}).get("services") or {}
    containers = _containers(ps_list)
    recreate = set(recreate or [])
    plan = {"side_by_side": {}, "plain": {}}
    for svc in _service_names(services):
        mine = [c for c in containers if c.get("service") == svc]
        if not any(c.get("name") in recreate for c in mine):
            continue
        why = "never runs twice at once (rollback_singletons)" if svc in set(singletons or []) else ""
        why = why or _why_not_twice(specs.get(svc) or {})
        if not why and len(mine) != 1:
            why = "runs %d containers" % len(mine)
        if not why and container_problem(svc, mine[0]):
            why = "its container is not serving (%s)" % container_problem(svc, mine[0]).split(": ", 1)[1]
        if not why and not mine[0].get("health"):
            # Running is all `up --wait` could wait for: the old one would go before the new one serves.
            why = "has no healthcheck (nothing says when its new container serves)"
        if why:
            plan["plain"][svc] = why
        else:
            plan["side_by_side"][svc] = mine[0]["name"]
    return plan


def _why_not_prepared(spec, count):
    """Why a service's new container cannot be created beside the old one before it stops, or ""."""
    if spec.get("container_name"):
        return "has a fixed container name (%s)" % spec["container_name"]
    for key in ("network_mode", "ipc", "pid"):
        if str(spec.get(key) or "").startswith(("container:", "service:")):
            return "shares the namespace of another container (%s %s)" % (key, spec[key])
    networks = spec.get("networks") if isinstance(spec.get("networks"), dict) else {}
    for name, net in networks.items():
        if isinstance(net, dict) and (net.get("ipv4_address") or net.get("ipv6_address")):
            return "has a fixed address on network %s" % name
    if count > 1:
        return "runs %d containers" % count
    return ""


def prepare_plan(config, ps_list, recreate, services, running=()):
    """What can be made ready before a stop, so that the stop is followed by starts only: for each of ``services``
    (the release's ``docker compose config --format json``, the project's containers, and the containers a dry run of
    the release would recreate), one of

    - ``prepare``: its new container can be created now beside the old one (``{service: old container or None}``);
    - ``as_is``: its container is the release's already: it only needs starting after the stop;
    - ``later``: ``{service: why}``, recreated by compose after the stop (``running`` names the services that keep
      running through it, which are never created twice).
    """
    specs = (config or {}).get("services") or {}
    containers = _containers(ps_list)
    recreate = set(recreate or [])
    plan = {"prepare": {}, "as_is": [], "later": {}}
    for svc in _service_names(services):
        if svc not in specs:
            plan["later"][svc] = "the release does not define it"
            continue
        mine = [c for c in containers if c.get("service") == svc]
        outdated = any(c.get("name") in recreate for c in mine)
        if mine and not outdated:
            plan["as_is"].append(svc)
            continue
        why = "keeps running through the stop" if svc in set(running or ()) else ""
        why = why or _why_not_prepared(specs[svc], len(mine))
        if why:
            plan["later"][svc] = why
        else:
            plan["prepare"][svc] = mine[0]["name"] if mine else None
    return plan


def created_after(ps_list, prepare):
    """The container created for each prepared service ({service: new container}): the one in state created
    that is not its old one. A service with none, or several, is left out."""
    containers = _containers(ps_list)
    found = {}
    for svc, old in (prepare or {}).items():
        new = [c["name"] for c in containers
               if c.get("service") == svc and c.get("name") != old and c.get("state") == "created"]  # fmt: skip
        if len(new) == 1:
            found[svc] = new[0]
    return found


def healthcheck_argv(test):
    """The command a container's healthcheck runs (``Config.Healthcheck.Test`` of ``docker inspect``), as argv for
    ``docker exec``; None when it has none (``NONE``, or empty: running is then all there is to wait for)."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return list(test[1:]) or None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])] if len(test) > 1 else None
    return None


def release_argv(compose_argv, repo, commit, workdir):
    """The project's compose command line with each ``--file`` inside ``repo`` replaced by its text at ``commit``
    (written under ``workdir``). The project directory stays ``repo``: relative paths resolve as they will once
    the commit is checked out, and Compose computes the same configuration for the containers."""
    root = os.path.realpath(repo)
    argv, files = [], 0
    args = list(compose_argv)
    i = 0
    while i < len(args):
        arg = args[i]
        path = None
        if arg.startswith("--file="):
            path = arg.split("=", 1)[1]
        elif arg in ("--file", "-f") and i + 1 < len(args):
            path = args[i + 1]
            i += 1
        if path is None:
            argv.append(arg)
        else:
            real = os.path.realpath(os.path.join(root, path))
            if real == root or not real.startswith(root + os.sep):
                argv.append("--file=" + path)
            else:
                rel = os.path.relpath(real, root)
                show = subprocess.run(["git", "-C", root, "show", "%s:%s" % (commit, rel)], capture_output=True,
                                      check=False)  # fmt: skip
                if show.returncode != 0:
                    why = " ".join(show.stderr.decode("utf-8", "replace").split())[:300] or "git show failed"
                    raise ComposeRunError("%s is not in commit %s: %s" % (rel, commit[:12], why))
                dest = os.path.join(workdir, "%d" % files, rel)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with open(dest, "wb") as handle:
                    handle.write(show.stdout)
                files += 1
                argv.append("--file=" + dest)
        i += 1
    return argv


def run_together(commands, compose_env, timeout):
    """Run the commands (argv lists) at the same time; for each, in order, ``(returncode, stderr text)``, with
    returncode None when it did not end within ``timeout`` seconds (it is killed) or could not be started."""
    env = dict(os.environ, **{k: str(v) for k, v in (compose_env or {}).items()})
    procs = []
    for argv in commands:
        try:
            procs.append(subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env))
        except OSError as exc:
            procs.append(exc)
    results = []
    for proc in procs:
        if isinstance(proc, OSError):
            results.append((None, str(proc)))
            continue
        try:
            _unused, err = proc.communicate(timeout=timeout)
            results.append((proc.returncode, err.decode("utf-8", "replace")))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            results.append((None, "did not end within %d s" % timeout))
    return results
