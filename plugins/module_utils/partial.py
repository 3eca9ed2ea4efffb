# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Procedure C, one service rolled back: which service is failing, and the pins file.

A pin runs one compose service from an older release while the rest of the stack stays on the
deployed one. Pins live in a compose override file; each pinned service is written there as the
older release's whole definition, tagged ``!override`` so that Compose replaces the deployed
definition instead of merging into it (Compose 2.24 and later). The top-level ``x-runbook-pins``
mapping, which Compose ignores, says which version each pin came from.
"""

from __future__ import annotations

import copy
import re

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover
    HAS_YAML = False

from ansible_collections.runbook.rollback.plugins.module_utils.compose import container_problem, stack_state

PINS_KEY = "x-runbook-pins"
# The older release's image is used as it is: it was built for that release, or is rebuilt from
# its sources before the pin is written. A build section would build from the deployed tree.
DROPPED_KEYS = ("build",)
HEADER = (
    "# Written by runbook.rollback Procedure C: these services run an older release while the rest of the\n"
    "# stack runs the deployed one. Use it with the compose files, after them:\n"
    "#   docker compose -f <your compose files> -f %s up -d SERVICE\n"
    "# The next deploy or whole-stack rollback removes it.\n"
)


class PinError(ValueError):
    """One-line reason a pin cannot be written or read."""


def service_versions(containers, pins=None):
    """stack_state() of the project's containers, each service marked ``pinned`` when a pin holds it."""
    pins = pins or {}
    return {svc: dict(info, pinned=svc in pins) for svc, info in stack_state(containers or []).items()}


def versions_line(versions):
    """One line: ``v1.2.5: api, worker; v1.2.3: payments (pinned)``."""
    groups = {}
    for svc, info in sorted(versions.items()):
        label = svc + (" (pinned)" if info.get("pinned") else "")
        if info.get("state") not in ("running", "healthy"):
            label += " [%s]" % info.get("state")
        groups.setdefault(info.get("version") or "untagged", []).append(label)
    order = sorted(groups, key=lambda v: [int(n) for n in re.findall(r"\d+", v)], reverse=True)
    return "; ".join("%s: %s" % (v, ", ".join(groups[v])) for v in order)


def failing_services(containers, services, endpoints=None, health=None):
    """[{service, reason}] for the services that fail, in the compose file's order.

    A service fails when it has no container, a container that is not running (exited,
    restarting, ...) or not healthy, or when a health endpoint that names it as its C(service) is
    not ok. Endpoint results are only blamed on a service whose containers look fine, so that
    one crash-looping service is one finding, not two.
    """
    containers = containers or []
    by_service = {}
    for c in containers:
        by_service.setdefault(c.get("service"), []).append(c)
    found = {}
    for svc in services:
        mine = by_service.get(svc, [])
        if not mine:
            found[svc] = "no container"
            continue
        for c in mine:
            problem = container_problem(svc, c)
            if problem:
                found[svc] = problem.split(": ", 1)[1]
                break
    verdicts = {r.get("name"): r for r in (health or {}).get("endpoints", [])}
    for ep in endpoints or []:
        svc = ep.get("service")
        verdict = verdicts.get(ep.get("name"))
        if not svc or svc not in services or svc in found or not verdict or verdict.get("ok"):
            continue
        found[svc] = "health endpoint %s: %s" % (ep["name"], verdict.get("error") or "not ok")
    return [{"service": svc, "reason": found[svc]} for svc in services if svc in found]


def choose_service(requested, services, failing):
    """The one service to roll back, or PinError with the one-line reason."""
    if requested:
        if requested not in services:
            raise PinError("service %s is not defined in the compose project (services: %s); nothing was changed"
                           % (requested, ", ".join(services)))
        return requested
    if not failing:
        raise PinError("no failing service found: every service runs, is healthy and answers its health endpoint; "
                       "nothing was changed. Name one with -e service=NAME")
    if len(failing) > 1:
        raise PinError("%d services are failing (%s); Procedure C rolls back one service: use Procedure A, or "
                       "name one with -e service=NAME. Nothing was changed"
                       % (len(failing), "; ".join("%s: %s" % (f["service"], f["reason"]) for f in failing)))
    return failing[0]["service"]


def service_definition(compose_text, service, version, image=None):
    """The service's definition in an older release's compose file, ready to pin. `image` runs a service the
    file builds without an image name (that release's own build, <project>-<service>:<version>)."""
    if not HAS_YAML:  # pragma: no cover
        raise PinError("PyYAML is required to read compose files: install it for the target's Python "
                       "(python3-yaml on Debian and Ubuntu)")
    try:
        doc = yaml.safe_load(compose_text)
    except yaml.YAMLError as exc:
        detail = str(exc).replace("\n", " ")
        raise PinError("the compose file of %s is not valid YAML: %s" % (version, detail)) from None
    services = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict) or service not in services:
        raise PinError("%s does not define service %s, so it cannot run that release; nothing was changed"
                       % (version, service))
    definition = copy.deepcopy(services[service] or {})
    if isinstance(definition, dict) and not definition.get("image") and definition.get("build") and image:
        definition["image"] = image
    if not isinstance(definition, dict) or not definition.get("image"):
        raise PinError("service %s in %s has no image name to pin" % (service, version))
    for key in DROPPED_KEYS:
        definition.pop(key, None)
    return definition


class _Override(dict):
    """A mapping written with the ``!override`` tag."""


class _Dumper(yaml.SafeDumper if HAS_YAML else object):
    pass


class _Loader(yaml.SafeLoader if HAS_YAML else object):
    pass


if HAS_YAML:
    _Dumper.add_representer(
        _Override, lambda dumper, data: dumper.represent_mapping("!override", dict(data), flow_style=False)
    )
    _Loader.add_constructor("!override", lambda loader, node: loader.construct_mapping(node, deep=True))


def render(pins, path_hint="pins.yml"):
    """The override file's text for pins {service: {"version": v, "definition": {...}}}."""
    if not pins:
        raise PinError("no pins to write")
    doc = {
        PINS_KEY: {svc: pins[svc]["version"] for svc in sorted(pins)},
        "services": {svc: _Override(pins[svc]["definition"]) for svc in sorted(pins)},
    }
    body = yaml.dump(doc, Dumper=_Dumper, default_flow_style=False, sort_keys=True, width=120)
    return HEADER % path_hint + body


def parse(text):
    """{service: {"version", "definition"}} from an override file written by render()."""
    if not text or not text.strip():
        return {}
    try:
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass that only adds !override
    except yaml.YAMLError as exc:
        raise PinError("the pins file is not valid YAML: %s" % str(exc).replace("\n", " ")) from None
    if not isinstance(doc, dict) or not isinstance(doc.get(PINS_KEY), dict):
        raise PinError("the pins file has no %s mapping; it was not written by Procedure C" % PINS_KEY)
    services = doc.get("services") or {}
    pins = {}
    for svc, version in doc[PINS_KEY].items():
        if not isinstance(services.get(svc), dict):
            raise PinError("the pins file names %s in %s but does not define it" % (svc, PINS_KEY))
        pins[str(svc)] = {"version": str(version), "definition": dict(services[svc])}
    return pins


_VERSION_LIKE = re.compile(r"^[0-9A-Za-z._-]+$")


def apply(existing, service, version=None, definition=None, remove=False):
    """New pins after pinning (or, with remove, unpinning) one service; None unpins everything."""
    pins = {k: dict(v) for k, v in (existing or {}).items()}
    if service is None:
        return {} if remove else pins
    if remove:
        pins.pop(service, None)
        return pins
    if not version or not _VERSION_LIKE.match(version):
        raise PinError("a pin needs the version it comes from, got %r" % (version,))
    pins[service] = {"version": version, "definition": definition or {}}
    return pins
