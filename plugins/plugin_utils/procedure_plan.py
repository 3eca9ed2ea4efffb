# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A procedure's plan before the act (-e plan=true): what it would do, read from the target, nothing changed.
Controller-side."""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.module_utils.plan import restart_plan, stage_plan
from ansible_collections.runbook.rollback.plugins.plugin_utils.report import PROCEDURES, estimate_text


def _names(items):
    return ", ".join(items) if items else "none"


def _budget(letter):
    procedure = PROCEDURES[letter]
    low, high = procedure["budget"]
    span = estimate_text(low) if low == high else "%s-%s" % (estimate_text(low), estimate_text(high))
    return "%s by the runbook (Procedure %s: %s)" % (span, letter, procedure["title"])


def code_rollback_plan(run):
    """The plan of a code rollback (Procedure A) from what preflight read.

    ``run`` holds ``target`` and ``reason`` (the release and why), ``current_version``, ``commit``,
    ``missing_images``, ``containers`` (compose_ps shape), ``services`` (the target's compose services,
    name to {image}), ``stages``, ``data_services``, ``reload`` (the services rollback_reload would reload),
    ``stop_mode`` and ``command`` (how to go ahead).
    Returns ``{"services": {keep, replace, start, remove}, "lines": [...]}``.
    """
    services = run.get("services") or {}
    moves = restart_plan(run.get("containers") or [], services)
    recreated = set(moves["replace"] + moves["start"])
    stages = [
        stage["name"] + " (" + ", ".join(stage["services"]) + ")"
        for stage in stage_plan(run.get("stages") or [], sorted(services))
        if recreated & set(stage["services"])
    ]  # fmt: skip
    current = run.get("current_version") or "an unrecorded release"
    missing = run.get("missing_images") or []
    full = run.get("stop_mode") == "full"
    data_kept = [s for s in run.get("data_services") or [] if s in moves["keep"]]
    if full:
        interruption = "stop_mode=full: every service stops first and is back when its stage is healthy"
    elif not recreated and not moves["remove"]:
        interruption = "none: every service already runs the target's image"
    else:
        interruption = ("stop_mode=changed: only the services recreated, one stage at a time, each back when "
                        "healthy: " + _names(stages))  # fmt: skip
    lines = [
        "release       %s -> %s (%s), commit %s" % (current, run.get("target"), run.get("reason"),
                                                    (run.get("commit") or "?")[:12]),
        "images        " + ("all built" if not missing else "would build, while %s serves: %s" % (
            current, ", ".join(missing))),
        "recreate      " + _names(moves["replace"]) + " (image differs)",
        "start         " + _names(moves["start"]) + " (not running)",
        "keep running  " + _names(moves["keep"]) + " (same image; compose recreates one whose settings changed)",
        *_reload_lines(run),
        "remove        " + _names(moves["remove"]) + " (not in the target)",
        "data          none: the code only; the database and its migrations are left as they are"
        + ("; %s keep running" % ", ".join(data_kept) if data_kept and not full else ""),
        "interruption  " + interruption,
        "budget        " + _budget("A"),
        "to go ahead   " + (run.get("command") or ""),
    ]  # fmt: skip
    return {"services": moves, "lines": lines}


def _reload_lines(run):
    """The plan's line for the services whose configuration the release changes (rollback_reload), if any."""
    reload = run.get("reload") or []
    if not reload:
        return []
    return ["reload        " + _names(sorted(reload)) + " (its configuration changes: checked, then reloaded in place, "
            "not restarted)"]


def restore_plan(run):
    """The plan of a database restore and code rollback (Procedure B) from what its step 1 read.

    Besides what code_rollback_plan takes: ``backup`` (the chosen backup: id, created_at, version, size,
    row_counts), ``backup_reason``, ``database``, ``kept_database`` and ``check`` (what db_restore's
    check found: database_size, space). Returns ``{"services": {...}, "lines": [...]}``.
    """
    backup = run.get("backup") or {}
    services = run.get("services") or {}
    data_services = [s for s in run.get("data_services") or [] if s in services]
    stopped = sorted(s for s in services if s not in data_services)
    # The edge services are among the kept ones: they answer users, they hold no data.
    edge = [s for s in run.get("edge_services") or [] if s in data_services]
    data_kept = [s for s in data_services if s not in edge]
    moves = restart_plan(run.get("containers") or [], services)
    missing = run.get("missing_images") or []
    current = run.get("current_version") or "an unrecorded release"
    check = run.get("check") or {}
    space = check.get("space") or {}
    rows = ", ".join("%s %s" % (table, count) for table, count in sorted((backup.get("row_counts") or {}).items()))
    lines = [
        "backup        %s (taken %s on %s, %s bytes; rows: %s): %s" % (
            backup.get("id"), backup.get("created_at"), backup.get("version"), backup.get("size"), rows or "none",
            run.get("backup_reason") or ""),
        "release       %s -> %s (%s), commit %s" % (current, run.get("target"), run.get("reason"),
                                                    (run.get("commit") or "?")[:12]),
        "images        " + ("all built" if not missing else "would build, while %s serves: %s" % (
            current, ", ".join(missing))),
        "first         an emergency backup of %s, tagged before_rollback (%s bytes free, about %s needed)" % (
            run.get("database"), space.get("host_free", "?"), space.get("host_needed", "?")),
        "data          %s is replaced by the backup, restored beside it first; the database it replaces is kept "
        "as %s; rows written after %s are exported for reconciliation" % (
            run.get("database"), run.get("kept_database"), backup.get("created_at")),
        "stop          " + _names(stopped) + " (the application services, from the swap until their stage is healthy)",
        "keep running  " + _names(data_kept) + " (the database is swapped inside its server)"
        + ("; %s (in front of the application: users get its answer while the application is away)" % ", ".join(edge)
           if edge else ""),
        *(["prepare       the release's containers are created before the stop and started right after the swap, "
           "each stage once its own healthcheck passes"] if run.get("prepare") else []),
        *_reload_lines(run),
        "remove        " + _names(moves["remove"]) + " (not in the target)",
        "interruption  every application service, from the database swap until its stage is healthy",
        "budget        " + _budget("B"),
        "to go ahead   " + (run.get("command") or ""),
    ]  # fmt: skip
    return {"services": dict(moves, stop=stopped, keep=data_services), "lines": lines}


MISSING_IMAGE = "would be rebuilt from the release's tree, while the current containers keep running"


def single_service_plan(run):
    """The plan of a one-service rollback (Procedure C) from what its steps 1-2 read.

    ``run`` holds ``service``, ``reason`` (why that service), ``from_version``, ``target`` and
    ``target_reason``, ``current_version`` (the stack's), ``image``, ``image_missing``, ``done`` (already
    pinned and healthy), ``pins_file`` and ``command``.
    """
    service, target = run.get("service"), run.get("target")
    if run.get("done"):
        return {"lines": [
            "service       %s is already pinned to %s and healthy: nothing to do" % (service, target),
            "budget        " + _budget("C"),
        ]}  # fmt: skip
    lines = [
        "service       %s (%s): %s -> %s (%s)" % (
            service, run.get("reason"), run.get("from_version") or "no container", target, run.get("target_reason")),
        "image         %s %s" % (run.get("image"), MISSING_IMAGE if run.get("image_missing") else "is there"),
        "recreate      %s alone, pinned to %s in %s" % (service, target, run.get("pins_file")),
        "keep running  every other service, on %s, not restarted"
        % (run.get("current_version") or "the deployed commit"),
        "data          none: one service's code; the database and its migrations are left as they are",
        "interruption  %s only, while its new container starts and becomes healthy" % service,
        "budget        " + _budget("C"),
        "to go ahead   " + (run.get("command") or ""),
    ]  # fmt: skip
    return {"lines": lines}


def shutdown_plan(run):
    """The plan of an emergency shutdown (Procedure D) from what runs now.

    ``run`` holds ``project``, ``stopped`` (the services it would stop), ``kept`` (those kept running for
    forensics), ``keep_data``, ``mark`` (the shutdown mark's path), ``evidence`` (the evidence directory),
    ``log_max_bytes`` and ``command``.
    """
    stopped, kept = run.get("stopped") or [], run.get("kept") or []
    lines = [
        "mark          %s: from then on no deploy or rollback starts a service, until procedure_d.yml -e clear=true"
        % run.get("mark"),
        "evidence      logs (each cut at %s bytes), inspect, compose ps and the release of every container of %s, "
        "into %s" % (run.get("log_max_bytes"), run.get("project"), run.get("evidence")),
        "stop          " + _names(stopped) + " (every running container of the project"
        + (", but the data services)" if run.get("keep_data") else ")"),
        "keep running  " + _names(kept) + (" (for forensics, -e keep_data=true)" if kept else ""),
        "lock          none taken: an emergency outranks a deploy; one running now stops before its next stage",
        "data          nothing deleted: containers are stopped, not removed; volumes are kept",
        "interruption  the whole service, until a deploy or rollback after procedure_d.yml -e clear=true",
        "budget        " + _budget("D"),
        "to go ahead   " + (run.get("command") or ""),
    ]  # fmt: skip
    return {"lines": lines}
