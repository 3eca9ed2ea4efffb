# Copyright: runbook.rollback contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a move to a target release does to each service, judged by image."""

from __future__ import annotations


def restart_plan(current, target):
    """Split services into keep / replace / start / remove.

    ``current`` is a list of containers as returned by the ``compose_ps`` filter (each with
    ``service``, ``state`` and ``image``); ``target`` maps the target release's service names to
    ``{"image": ...}``. A running service whose image name is the target's is kept (Compose may
    still recreate it if its configuration changed); a running one with another image is replaced;
    a target service with no running container is started; a running service that the target does
    not define is removed.
    """
    running = {}
    for container in current or []:
        if container.get("state") in ("running", "restarting"):
            running.setdefault(container.get("service"), container.get("image"))
    plan = {"keep": [], "replace": [], "start": [], "remove": []}
    for service in sorted(target or {}):
        image = (target[service] or {}).get("image")
        if service not in running:
            plan["start"].append(service)
        elif image and running[service] != image:
            plan["replace"].append(service)
        else:
            plan["keep"].append(service)
    plan["remove"] = sorted(s for s in running if s not in (target or {}))
    return plan


def stage_plan(stages, services, other_stage=None):
    """Order ``services`` into the configured ``stages``, dropping empty stages.

    Each stage is a dict with ``name`` and ``services`` (and optionally ``timeout`` or ``data``,
    which are carried over). Services that the target defines but no stage lists are started
    last, in a stage named ``other_stage`` (default ``other``, or ``all`` when no stage is configured), so
    that nothing the release defines is left out.
    """
    wanted = list(services or [])
    placed = set()
    plan = []
    for stage in stages or []:
        members = [s for s in stage.get("services", []) if s in wanted and s not in placed]
        placed.update(members)
        if members:
            plan.append(dict(stage, services=members))
    rest = [s for s in wanted if s not in placed]
    if rest:
        plan.append({"name": other_stage or ("other" if stages else "all"), "services": rest})
    return plan
