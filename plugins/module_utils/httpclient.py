# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Minimal JSON-over-HTTP for smoke_check and health_check, on the standard library only."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A gateway answering a POST with a redirect (to a login page, a maintenance page) is a
    # failed flow; following it would turn the POST into a GET and report a misleading 200.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def validate_url(url):
    parsed = urllib.parse.urlsplit(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("invalid URL %r: expected http:// or https:// with a host" % (url,))
    return url


def describe_error(exc, timeout):
    """Short human reason for a transport failure."""
    reason = getattr(exc, "reason", exc)
    if isinstance(reason, (socket.timeout, TimeoutError)) or "timed out" in str(reason):
        return "timed out after %gs" % timeout
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "cannot resolve host"
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return text.strip().splitlines()[0][:120]


def request(method, url, payload=None, headers=None, timeout=5.0):
    """Return dict(status, body, json, error, ms). status is None when no HTTP response arrived."""
    data = None
    hdrs = {"Accept": "application/json", "User-Agent": "runbook.rollback"}
    if payload is not None:
        data = json.dumps(payload).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    # Callers pass URLs through validate_url (http/https only), so file: and friends never get here.
    req = urllib.request.Request(url, data=data, headers=hdrs, method=method)  # noqa: S310
    started = time.monotonic()
    status, body, error = None, b"", None
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            status = resp.status
            body = resp.read()
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            body = exc.read()
        except Exception:  # the error body is best effort only
            body = b""
        finally:
            exc.close()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        error = describe_error(exc, timeout)
    ms = round((time.monotonic() - started) * 1000)
    text = body.decode("utf-8", errors="replace") if body else ""
    try:
        decoded = json.loads(text) if text else None
        is_json = bool(text)
    except ValueError:
        decoded, is_json = None, False
    return {"status": status, "body": text, "json": decoded, "is_json": is_json, "error": error, "ms": ms}
