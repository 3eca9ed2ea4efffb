# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verification's verdict: each of the runbook's checks judged from what the verify role gathered.

Pure functions, used by the filter runbook.rollback.verify_checks (plugins/filter/verify.py)."""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.module_utils.decision import fmt_num, window_values


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _body(response):
    """The JSON body of a uri result (a dict), or {} when there is none."""
    body = (response or {}).get("json") if isinstance(response, dict) else None
    return body if isinstance(body, dict) else {}


def _limit(value):
    """A limit as the operator wrote it (1.0, 500), for messages."""
    return "%s" % (value,)


def containers_check(problems, count):
    return {
        "name": "containers",
        "ok": not problems,
        "detail": "%s services running and healthy" % count if not problems else ", ".join(problems),
    }


def health_check(health):
    health = health or {}
    return {"name": "health", "ok": bool(health.get("healthy")), "detail": health.get("summary") or ""}


def smoke_check(smoke):
    """smoke: the smoke_check result, or None when the flows were not run."""
    if smoke is None:
        return {"name": "smoke", "ok": True, "detail": "skipped"}
    return {"name": "smoke", "ok": bool(smoke.get("passed")), "detail": smoke.get("summary") or ""}


def error_rate_check(metrics):
    """metrics: None when not checked, else {error_rate (uri result), error_rate_url, max_error_rate}."""
    if metrics is None:
        return {"name": "error rate", "ok": True, "detail": "skipped"}
    if not metrics.get("error_rate_url"):
        return {"name": "error rate", "ok": True, "detail": "not measured: no error-rate source set"}
    rate = _body(metrics.get("error_rate")).get("rate")
    limit = metrics["max_error_rate"]
    if not _number(rate):
        return {"name": "error rate", "ok": False, "detail": "unreadable from %s" % metrics.get("error_rate_url")}
    return {
        "name": "error rate",
        "ok": rate < float(limit),
        "detail": "%.2f %% (limit %s %%)" % (rate, _limit(limit)),
    }


def p95_check(metrics):
    """metrics: None when not checked, else {p95 (uri result), p95_url, max_p95_ms, min_requests_for_p95}.

    A p95 measured over fewer requests than the minimum is reported, not judged."""
    if metrics is None:
        return {"name": "p95", "ok": True, "detail": "skipped"}
    if not metrics.get("p95_url"):
        return {"name": "p95", "ok": True, "detail": "not measured: no response-time source set"}
    body = _body(metrics.get("p95"))
    p95, requests = body.get("p95"), body.get("requests", 0)
    requests = requests if _number(requests) else 0
    if not _number(p95):
        return {"name": "p95", "ok": False, "detail": "unreadable from %s" % metrics.get("p95_url")}
    limit, least = metrics["max_p95_ms"], int(metrics["min_requests_for_p95"])
    detail = "%.0f ms (limit %s ms)" % (p95, _limit(limit))
    if requests < least:
        detail += ", not judged: %d requests in the window" % requests
    return {"name": "p95", "ok": p95 < float(limit) or requests < least, "detail": detail}


def stability_check(stability):
    """stability: None when no watch was asked for; else {seconds, max_error_rate, sustained, result, later}, result
    being the metrics_sample result of the watch, or None when it was not watched (yet): later when it comes after
    the team is told the rollback is complete, else because an earlier check failed."""
    if stability is None:
        return {"name": "stability", "ok": True, "detail": "skipped"}
    if "error_rate_url" in stability and not stability["error_rate_url"]:
        return {"name": "stability", "ok": True, "detail": "not watched: no error-rate source set"}
    result = stability.get("result")
    if result is None and stability.get("later"):
        return {"name": "stability", "ok": True,
                "detail": "watched for %s s once the team is told the rollback is complete" % stability["seconds"]}
    if result is None:
        return {"name": "stability", "ok": True, "detail": "not watched: an earlier check failed"}
    limit, sustained, seconds = stability["max_error_rate"], stability["sustained"], stability["seconds"]
    slow = _p95_stayed_high(result.get("samples") or [], stability.get("max_p95_ms"), sustained)
    if slow and not result.get("stopped_early"):
        detail = "p95 above %.0f ms (%g ms normal) for %s s (lowest %.0f ms): response times did not return to " \
                 "baseline" % (float(stability["max_p95_ms"]), float(stability.get("p95_baseline_ms") or 0),
                               sustained, slow)  # fmt: skip
        return {"name": "stability", "ok": False, "detail": detail}
    if result.get("stopped_early"):
        detail = "error rate at or above %s %% for %s s (lowest %s %%)" % (
            limit, sustained, result.get("stop_observed"))  # fmt: skip
        return {"name": "stability", "ok": False, "detail": detail}
    rates = [s["error_rate"] for s in result.get("samples") or [] if _number(s.get("error_rate"))]
    if rates:
        detail = "error rate never at or above %s %% for %s s in %s s (highest %s %%)" % (
            limit, sustained, seconds, max(rates))  # fmt: skip
    else:
        detail = "no error rate to watch over %s s (no requests)" % seconds
    return {"name": "stability", "ok": True, "detail": detail}


def _p95_stayed_high(samples, limit, sustained):
    """The lowest p95 of the last ``sustained`` seconds when every sample of them was above ``limit``, else None."""
    try:
        limit = float(limit or 0)
    except (TypeError, ValueError):
        return None
    if limit <= 0:
        return None
    state, values = window_values(samples, "p95_ms", float(sustained or 0))
    if state != "ok" or not values or not all(value > limit for value in values):
        return None
    return min(values)


def logs_check(logs):
    """logs: None when not looked at; else {result (compose_logs result, or None when not read), repeat_limit}."""
    if logs is None:
        return {"name": "logs", "ok": True, "detail": "skipped"}
    result = logs.get("result")
    if result is None:
        return {"name": "logs", "ok": True, "detail": "not read"}
    if result.get("failed") or "repeated" not in result:
        # The task does not fail the play on unreadable logs (failed_when: false): its message is all there is.
        return {"name": "logs", "ok": True, "detail": "not judged: %s" % str(result.get("msg") or "unreadable")[:200]}
    repeated = result.get("repeated") or []
    return {"name": "logs", "ok": not repeated, "detail": result.get("summary") or ""}


def database_check(database):
    """database: None when not looked at; else {result (db_restore state=verified), max_connections_share}.
    A database the verification cannot read fails it: the services behind it cannot read it either."""
    if database is None:
        return {"name": "database", "ok": True, "detail": "skipped"}
    result = database.get("result") or {}
    if result.get("failed") or "row_counts" not in result:
        why = str(result.get("msg") or "no answer")[:200]
        return {"name": "database", "ok": False, "detail": "not readable: %s" % why}
    problems = list(result.get("problems") or [])
    conn = result.get("connections") or {}
    used, most = conn.get("used"), conn.get("max")
    share = database.get("max_connections_share")
    share = 0.9 if share is None else share
    counts = sorted((result.get("row_counts") or {}).items())
    rows = ", ".join("%s %s" % (t, "missing" if n is None else n) for t, n in counts)
    if _number(used) and _number(most) and most > 0:
        connections = "connections %s of %s" % (fmt_num(used), fmt_num(most))
        if used >= share * most:
            problems.append("%s, at or above %s %% of the maximum" % (connections, fmt_num(100 * share)))
    else:
        connections = "connections not counted"
    detail = "; ".join([rows or "no table"] + problems if problems else [rows or "no table", connections])
    return {"name": "database", "ok": not problems, "detail": detail}


def verify_checks(gathered):
    """Every check of the verification, in the runbook's order: [{name, ok, detail}].

    gathered: {containers: {problems, count}, health, smoke, metrics, stability, database, logs} as the helpers above
    take them.
    """
    containers = gathered.get("containers") or {}
    checks = [
        containers_check(containers.get("problems") or [], containers.get("count", 0)),
        health_check(gathered.get("health")),
        smoke_check(gathered.get("smoke")),
        error_rate_check(gathered.get("metrics")),
        p95_check(gathered.get("metrics")),
        stability_check(gathered.get("stability")),
        database_check(gathered.get("database")),
        logs_check(gathered.get("logs")),
    ]
    # A watch left for after the completion never comes when another check failed: say so, not that it will.
    if any(not c["ok"] for c in checks):
        for check in checks:
            if check["name"] == "stability" and check["detail"].startswith("watched for "):
                check["detail"] = "not watched: an earlier check failed"
    return checks


def verify_verdict(checks):
    """{passed, problems}: passed when every check is; a problem per failed check, "name: detail"."""
    failed = [c for c in checks if not c["ok"]]
    return {"passed": not failed, "problems": ["%s: %s" % (c["name"], c["detail"]) for c in failed]}
