# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health endpoint evaluation for runbook.rollback.health_check."""

from __future__ import annotations

import time

from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import MISSING, json_at, request, validate_url


def validate_endpoints(endpoints):
    if not isinstance(endpoints, list) or not endpoints:
        raise ValueError("endpoints must be a non-empty list of {name, url}")
    seen = set()
    for i, ep in enumerate(endpoints):
        if not isinstance(ep, dict) or not ep.get("name") or not ep.get("url"):
            raise ValueError("endpoints[%d] needs both name and url" % i)
        if ep["name"] in seen:
            raise ValueError("endpoint name %s is listed twice" % ep["name"])
        seen.add(ep["name"])
        try:
            validate_url(ep["url"])
        except ValueError as exc:
            raise ValueError("endpoint %s: %s" % (ep["name"], exc)) from None
    return endpoints


def version_of(response, version_key="version", version_header=None):
    """The version an answer reports: the header ``version_header`` when it is named, else the JSON body's
    ``version_key`` (a dotted path such as ``build.version`` or ``items.0.version``); None when it says none."""
    if version_header:
        value = (response.get("headers") or {}).get(str(version_header).lower())
        return value.strip() or None if isinstance(value, str) else None
    value = json_at(response.get("json"), version_key or "version")
    return None if value is MISSING or value is None or isinstance(value, (dict, list)) else str(value)


def evaluate(name, url, response, expect_version=None, version_key="version", version_header=None):
    """Pure verdict on one probe response (as returned by httpclient.request).

    Any 2xx answer is healthy, whatever its body (JSON, plain ``ok``, nothing); the version is checked only
    when one is expected, read from ``version_header`` or the JSON body's ``version_key``. An endpoint that
    names neither and reports no ``version`` (a plain ``ok``) cannot be checked: it is marked
    ``unversioned``, not failed; one that names where its version is must report it there."""
    status = response.get("status")
    result = {"name": name, "url": url, "ok": False, "status": status, "version": None, "error": None,
              "unversioned": False}
    result["version"] = version_of(response, version_key, version_header)
    where = "header %s" % version_header if version_header else "key %s" % (version_key or "version")
    if response.get("error"):
        result["error"] = response["error"]
    elif not (isinstance(status, int) and 200 <= status < 300):
        result["error"] = "HTTP %s" % status
    elif expect_version and result["version"] is None and (version_header or version_key != "version"):
        result["error"] = "no version in response (%s), expected %s" % (where, expect_version)
    elif expect_version and result["version"] is None:
        result["ok"] = result["unversioned"] = True
    elif expect_version and result["version"] != expect_version:
        result["error"] = "version %s, expected %s" % (result["version"], expect_version)
    else:
        result["ok"] = True
    return result


def summary(results):
    ok = sum(1 for r in results if r["ok"])
    line = "%d/%d health endpoints ok" % (ok, len(results))
    failed = ["%s: %s" % (r["name"], r["error"]) for r in results if not r["ok"]]
    unversioned = [r["name"] for r in results if r["ok"] and r.get("unversioned")]
    if unversioned:
        failed.append("release not checked (no version reported): %s" % ", ".join(unversioned))
    return "; ".join([line] + failed)


def expected_version(endpoint, expect_version=None, expect_versions=None):
    """The version an endpoint must report: its service's entry in expect_versions, else expect_version."""
    service = endpoint.get("service")
    if expect_versions and service in expect_versions:
        return expect_versions[service] or None
    return expect_version or None


def check_all(endpoints, expect_version=None, timeout=3.0, wait=0.0, interval=1.0, probe=request,
              clock=time.monotonic, sleep=time.sleep, expect_versions=None):
    """Probe every endpoint; while some fail and `wait` has not elapsed, re-probe only the failing ones."""
    deadline = clock() + max(wait, 0)
    results = {}
    pending = list(endpoints)
    attempts = 0
    while True:
        attempts += 1
        for ep in pending:
            resp = probe("GET", ep["url"], timeout=timeout)
            results[ep["name"]] = evaluate(ep["name"], ep["url"], resp,
                                           expected_version(ep, expect_version, expect_versions),
                                           ep.get("version_key") or "version", ep.get("version_header"))
        pending = [ep for ep in endpoints if not results[ep["name"]]["ok"]]
        remaining = deadline - clock()
        if not pending or remaining <= 0:
            break
        sleep(min(max(interval, 0), remaining))
    ordered = [results[ep["name"]] for ep in endpoints]
    return {
        "endpoints": ordered,
        "healthy": all(r["ok"] for r in ordered),
        "summary": summary(ordered),
        "attempts": attempts,
    }
