# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for docker compose: compose-file services, `compose ps` output and what is wrong with it."""

from __future__ import annotations

import json
import re

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML
    HAS_YAML = False

_STATUS_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")


def compose_services(text):
    """Map service name -> {"image": str or None, "build": bool} from compose-file YAML text."""
    if not HAS_YAML:  # pragma: no cover
        raise ValueError("PyYAML is required to parse compose files")
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
    """Sorted unique image names of services that are built from the checkout."""
    return sorted({s["image"] for s in services.values() if s.get("build") and s.get("image")})


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


def problems(ps_list, expected_services):
    """Problems for the expected services; an empty list means all are up (and healthy where checked)."""
    if isinstance(expected_services, dict):
        expected = list(expected_services)
    elif isinstance(expected_services, str):
        expected = [expected_services]
    else:
        expected = list(expected_services or [])
    containers = parse_ps(ps_list) if isinstance(ps_list, str) else [
        c if "service" in c else _normalise(c) for c in (ps_list or [])
    ]
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
