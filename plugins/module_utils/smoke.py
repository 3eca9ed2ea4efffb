# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's critical user flows (register -> login -> chat -> message, billing) through the gateway."""

from __future__ import annotations

import re
import secrets
import time
import urllib.parse

from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import request, validate_url

# Canonical order; each flow's prerequisite must have passed in this run.
FLOWS = ("register", "login", "create_chat", "send_message", "billing_checkout")
PREREQUISITE = {"login": "register", "create_chat": "login", "send_message": "create_chat", "billing_checkout": "login"}

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(r"(?=.{1,253}$)%s(?:\.%s)*" % (_LABEL, _LABEL))


class SmokeError(ValueError):
    pass


def validate_flows(flows):
    """Return the requested flows in canonical order; refuse unknown ones or missing prerequisites."""
    flows = list(flows or [])
    unknown = [f for f in flows if f not in FLOWS]
    if unknown:
        raise SmokeError("unknown smoke flow(s) %s; known: %s" % (", ".join(map(str, unknown)), ", ".join(FLOWS)))
    for f in flows:
        pre = PREREQUISITE.get(f)
        if pre and pre not in flows:
            raise SmokeError("smoke flow %s needs %s; add it to flows" % (f, pre))
    if not flows:
        raise SmokeError("flows must not be empty")
    return [f for f in FLOWS if f in flows]


def validate_domain(domain):
    if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain):
        raise SmokeError("invalid email_domain %r" % (domain,))
    return domain


def unique_email(domain, now=None):
    # Time plus randomness: parallel drills against one stack must not collide on "email taken".
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now))
    return "smoke-%s-%s@%s" % (stamp, secrets.token_hex(4), domain)


def random_password():
    return secrets.token_urlsafe(18)


def _expect(resp, status, *, field=None):
    """Error string for a response that does not meet the flow's contract, or None."""
    if resp["error"]:
        return resp["error"]
    if resp["status"] != status:
        return "HTTP %s" % resp["status"]
    if field is None:
        return None
    body = resp["json"]
    if not isinstance(body, dict):
        return "response is not a JSON object"
    if body.get(field) in (None, ""):
        return "response has no %s" % field
    return None


def summary(results):
    passed = sum(1 for r in results if r["ok"])
    line = "%d/%d smoke flows passed" % (passed, len(results))
    failed = ["%s (%s)" % (r["name"], r["error"]) for r in results if not r["ok"]]
    return line + ("; failed: " + ", ".join(failed) if failed else "")


def run_flows(base_url, flows=FLOWS, timeout=5.0, email_domain="example.test", password=None, call=request, email=None):
    """Run the flows in order; returns dict(flows, passed, summary, email). Never raises for HTTP failures.

    With `email` (and its `password`) the flows run as that existing account, and register is not allowed."""
    validate_url(base_url)
    if email is not None:
        if not password:
            raise SmokeError("an existing account (email) needs its password")
        if "register" in (flows or []):
            raise SmokeError("flow register cannot run for an existing account")
        if not flows:
            raise SmokeError("flows must not be empty")
        # The existing account stands in for register.
        wanted = validate_flows(list(flows) + ["register"])[1:]
    else:
        wanted = validate_flows(flows)
    validate_domain(email_domain)
    base = base_url.rstrip("/")
    outcome = {"register": True} if email is not None else {}
    password = password or random_password()
    email = email or unique_email(email_domain)
    state = {}
    results = []

    def post(path, payload, token=None):
        headers = {"Authorization": "Bearer %s" % token} if token else None
        return call("POST", base + path, payload=payload, headers=headers, timeout=timeout)

    for name in wanted:
        pre = PREREQUISITE.get(name)
        if pre and not outcome.get(pre):
            results.append({"name": name, "ok": False, "status": None, "ms": 0, "error": "skipped: %s failed" % pre})
            outcome[name] = False
            continue
        if name == "register":
            resp = post("/api/auth/register", {"email": email, "password": password})
            error = _expect(resp, 201, field="id")
        elif name == "login":
            resp = post("/api/auth/login", {"email": email, "password": password})
            error = _expect(resp, 200, field="token")
            if not error:
                state["token"] = str(resp["json"]["token"])
        elif name == "create_chat":
            resp = post("/api/chats", {"title": "smoke %s" % email.split("@")[0]}, state["token"])
            error = _expect(resp, 201, field="id")
            if not error:
                state["chat_id"] = str(resp["json"]["id"])
        elif name == "send_message":
            chat = urllib.parse.quote(state["chat_id"], safe="")
            resp = post("/api/chats/%s/messages" % chat, {"body": "smoke check"}, state["token"])
            error = _expect(resp, 201)
        else:
            resp = post("/api/billing/checkout", {"plan": "pro"}, state["token"])
            error = _expect(resp, 201, field="status")
            if not error and resp["json"]["status"] != "paid":
                error = "checkout status %s, expected paid" % resp["json"]["status"]
        outcome[name] = error is None
        results.append({"name": name, "ok": error is None, "status": resp["status"], "ms": resp["ms"], "error": error})

    return {"flows": results, "passed": all(r["ok"] for r in results), "summary": summary(results), "email": email}
