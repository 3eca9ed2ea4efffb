# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON over HTTP for the checks (health_check, smoke_check, metrics_sample, prometheus_samples), through
ansible.module_utils.urls: proxies from the environment, CA bundles, client certificates and certificate
checks as every Ansible module has them. Redirects are never followed."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

# Options a check module adds to its argument spec (doc fragment runbook.rollback.tls).
TLS_OPTIONS = dict(
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    client_cert=dict(type="path"),
    client_key=dict(type="path", no_log=False),
)


def tls_options(params):
    """The TLS settings of a module's parameters, as request() takes them."""
    return {key: params.get(key) for key in TLS_OPTIONS if params.get(key) is not None}


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


def request(method, url, payload=None, headers=None, timeout=5.0, tls=None):
    """Return dict(status, body, json, is_json, error, ms, headers). status is None when no HTTP response arrived;
    headers are the answer's, with lower-case names.

    tls: validate_certs, ca_path, client_cert, client_key (tls_options()). A redirect is answered as its own
    status: a gateway answering a POST with a redirect (to a login or maintenance page) is a failed flow, and
    following it would turn the POST into a GET and report a misleading 200."""
    data = None
    hdrs = {"Accept": "application/json"}
    if payload is not None:
        data = json.dumps(payload).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    started = time.monotonic()
    status, body, error, answer_headers = None, b"", None, {}
    try:
        # Callers pass URLs through validate_url (http/https only), so file: and friends never get here.
        with open_url(url, data=data, headers=hdrs, method=method, timeout=timeout, follow_redirects="none",
                      http_agent="runbook.rollback", **(tls or {})) as resp:  # fmt: skip
            status = resp.status
            answer_headers = {k.lower(): v for k, v in resp.headers.items()}
            body = resp.read()
    except urllib.error.HTTPError as exc:
        status = exc.code
        answer_headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        try:
            body = exc.read()
        except Exception:  # the error body is best effort only
            body = b""
        finally:
            exc.close()
    except (urllib.error.URLError, UrlsConnectionError, OSError, ValueError) as exc:
        error = describe_error(exc, timeout)
    ms = round((time.monotonic() - started) * 1000)
    text = body.decode("utf-8", errors="replace") if body else ""
    try:
        decoded = json.loads(text) if text else None
        is_json = bool(text)
    except ValueError:
        decoded, is_json = None, False
    return {"status": status, "body": text, "json": decoded, "is_json": is_json, "error": error, "ms": ms,
            "headers": answer_headers}


# What json_at returns for a key the answer does not have (None is a value an answer may hold).
MISSING = object()


def json_at(body, key):
    """The value at a dotted key of a decoded JSON answer (``data.token``, ``items.0.id``), or MISSING."""
    node = body
    for part in str(key).split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
    return node
