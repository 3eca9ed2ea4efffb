# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Smoke flows as data: a list of HTTP steps, each with what it sends, what it expects and what it keeps for
the steps after it (a token, an id), run in order through the app's front door.

A step is a dict:

    name: login                       # unique; how results and failures name it
    method: POST                      # default GET, or POST when it has a json body
    path: /api/sessions               # joined to the base URL (or url: an absolute http(s) URL)
    headers: {Authorization: "Bearer ${token}"}
    json: {email: "${email}", password: "${password}"}
    status: 200                       # an int or a list of ints; default any 2xx
    expect: {user.active: true}       # dotted key of the JSON answer -> the value it must have
    capture: {token: token}           # variable -> dotted key of the JSON answer (must be present)
    new_account: true                 # creates the throwaway account: left out when running as an existing one

`${name}` in a path, URL, header or JSON string is a variable: `email` and `password` (a throwaway account
made for this run, or the existing account given), `run` (unique to this run), `base_url`, or one a step
before captured. In a path or URL it is percent-encoded. A step that needs a variable nobody gave (the step
that captures it failed) is reported as skipped, with the reason. Nothing here is Jinja: the inventory's
strings are never templated again, and a captured value is only ever data.
"""

from __future__ import annotations

import re
import secrets
import time
import urllib.parse

from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import MISSING, json_at, request, validate_url

STEP_KEYS = frozenset(("name", "method", "path", "url", "headers", "json", "status", "expect", "capture",
                       "new_account", "signal"))  # fmt: skip
# The runbook's "critical user flows broken": what a failed step may report to the decision (its signal key).
FLOW_SIGNALS = frozenset(("login_broken", "signup_broken", "payment_failing", "chat_broken", "data_loss_on_save"))
METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"))
BUILT_IN = ("email", "password", "run", "base_url")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(r"(?=.{1,253}$)%s(?:\.%s)*" % (_LABEL, _LABEL))


class SmokeError(ValueError):
    pass


def validate_domain(domain):
    if not isinstance(domain, str) or not _DOMAIN.fullmatch(domain):
        raise SmokeError("invalid email_domain %r" % (domain,))
    return domain


def run_id(now=None):
    # Time plus randomness: parallel drills against one stack must not collide on "email taken".
    return "%s-%s" % (time.strftime("%Y%m%d%H%M%S", time.gmtime(now)), secrets.token_hex(4))


def unique_email(domain, now=None):
    return "smoke-%s@%s" % (run_id(now), domain)


def random_password():
    return secrets.token_urlsafe(18)


def _status_set(name, status):
    if status is None:
        return None
    values = status if isinstance(status, list) else [status]
    out = set()
    for value in values:
        try:
            code = int(value)
        except (TypeError, ValueError):
            code = 0
        if isinstance(value, bool) or not 100 <= code <= 599:
            raise SmokeError("step %s: status must be an HTTP status or a list of them, got %r" % (name, status))
        out.add(code)
    return out


def _variables_in(value):
    """Every ${name} used anywhere in a string, list or dict."""
    if isinstance(value, str):
        return set(_VARIABLE.findall(value))
    if isinstance(value, dict):
        return set().union(*(_variables_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_variables_in(v) for v in value)) if value else set()
    return set()


def validate_steps(steps):
    """The steps, checked and normalised (method, status set, the variables each needs); a one-line
    SmokeError for the first that is wrong. A step may only use variables a step before it captures."""
    if not isinstance(steps, list) or not steps:
        raise SmokeError("smoke steps must be a non-empty list")
    known, names, out = set(BUILT_IN), set(), []
    for index, step in enumerate(steps, 1):
        if not isinstance(step, dict):
            raise SmokeError("smoke step %d is not a mapping" % index)
        name = step.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise SmokeError("smoke step %d: name must be letters, digits, '-', '_' or '.', got %r" % (index, name))
        if name in names:
            raise SmokeError("smoke step %s is named twice" % name)
        names.add(name)
        unknown = sorted(set(step) - STEP_KEYS)
        if unknown:
            known_keys = ", ".join(sorted(STEP_KEYS))
            raise SmokeError("step %s: unknown key(s) %s; known: %s" % (name, ", ".join(unknown), known_keys))
        if ("path" in step) == ("url" in step):
            raise SmokeError("step %s: give either path or url" % name)
        where = step.get("path", step.get("url"))
        if not isinstance(where, str) or not where:
            raise SmokeError("step %s: path or url must be a non-empty string" % name)
        if "path" in step and not where.startswith("/"):
            raise SmokeError("step %s: path must start with /" % name)
        method = str(step.get("method") or ("POST" if "json" in step else "GET")).upper()
        if method not in METHODS:
            raise SmokeError("step %s: method %s is not one of %s" % (name, method, ", ".join(sorted(METHODS))))
        for key in ("headers", "expect", "capture"):
            if not isinstance(step.get(key, {}), dict):
                raise SmokeError("step %s: %s must be a mapping" % (name, key))
        for var, key in (step.get("capture") or {}).items():
            if not _VARIABLE.fullmatch("${%s}" % var) or var in BUILT_IN:
                raise SmokeError("step %s: cannot capture into %r" % (name, var))
            if not isinstance(key, str) or not key:
                raise SmokeError("step %s: capture %s needs the answer's key" % (name, var))
        if "signal" in step and step["signal"] not in FLOW_SIGNALS:
            raise SmokeError("step %s: signal must be one of %s, got %r" % (name, ", ".join(sorted(FLOW_SIGNALS)),
                                                                            step["signal"]))  # fmt: skip
        needs = _variables_in([where, step.get("headers"), step.get("json")])
        unknown_vars = sorted(needs - known)
        if unknown_vars:
            used = ", ".join("${%s}" % v for v in unknown_vars)
            raise SmokeError("step %s uses %s, which no step before it captures" % (name, used))
        known |= set(step.get("capture") or {})
        out.append(dict(step, method=method, status=_status_set(name, step.get("status")), needs=needs,
                        new_account=bool(step.get("new_account"))))  # fmt: skip
    return out


def substitute(value, variables, quote=False, keep_type=False):
    """${name} replaced in every string of value (percent-encoded with quote). With keep_type a string that is
    one variable alone becomes that value as captured (a number stays a number in a JSON body)."""
    if isinstance(value, str):
        whole = _VARIABLE.fullmatch(value)
        if keep_type and whole:
            return variables[whole.group(1)]

        def one(match):
            text = str(variables[match.group(1)])
            return urllib.parse.quote(text, safe="") if quote else text

        return _VARIABLE.sub(one, value)
    if isinstance(value, dict):
        return {k: substitute(v, variables, quote, keep_type) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables, quote, keep_type) for v in value]
    return value


def judge(step, resp):
    """Why the answer does not meet the step, or None; and what it captured."""
    if resp["error"]:
        return resp["error"], {}
    status = resp["status"]
    if (status not in step["status"]) if step["status"] else not 200 <= (status or 0) < 300:
        return "HTTP %s" % status, {}
    wanted = step.get("expect") or {}
    captures = step.get("capture") or {}
    if not wanted and not captures:
        return None, {}
    body = resp["json"]
    if not resp["is_json"]:
        return "answer is not JSON", {}
    for key, value in wanted.items():
        got = json_at(body, key)
        if got is MISSING:
            return "answer has no %s" % key, {}
        if got != value:
            return "%s is %s, expected %s" % (key, _short(got), _short(value)), {}
    captured = {}
    for var, key in captures.items():
        got = json_at(body, key)
        if got is MISSING or got in (None, ""):
            return "answer has no %s" % key, {}
        captured[var] = got
    return None, captured


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def summary(results):
    passed = sum(1 for r in results if r["ok"])
    line = "%d/%d smoke flows passed" % (passed, len(results))
    failed = ["%s (%s)" % (r["name"], r["error"]) for r in results if not r["ok"]]
    return line + ("; failed: " + ", ".join(failed) if failed else "")


def run_steps(base_url, steps, only=None, timeout=5.0, email_domain="example.test", email=None, password=None,
              call=request):  # fmt: skip
    """Run the steps in order; returns dict(flows, passed, summary, email). Never raises for HTTP failures.

    only: the names of the steps to run (default every one). With `email` (and its `password`) the steps run
    as that existing account, and those marked new_account are left out."""
    validate_url(base_url)
    steps = validate_steps(steps)
    if only is not None:
        unknown = sorted(set(only) - {s["name"] for s in steps})
        if unknown:
            raise SmokeError("no smoke step named %s" % ", ".join(unknown))
        steps = [s for s in steps if s["name"] in only]
    if email is not None:
        if not password:
            raise SmokeError("an existing account (email) needs its password")
        steps = [s for s in steps if not s["new_account"]]
    if not steps:
        raise SmokeError("no smoke step left to run")
    validate_domain(email_domain)
    base = base_url.rstrip("/")
    variables = {"email": email or unique_email(email_domain), "password": password or random_password(),
                 "run": run_id(), "base_url": base}  # fmt: skip
    results = []
    for step in steps:
        missing = sorted(step["needs"] - set(variables))
        if missing:
            results.append({"name": step["name"], "ok": False, "status": None, "ms": 0,
                            "error": "skipped: no %s" % ", ".join(missing)})  # fmt: skip
            continue
        if "url" in step:
            url = substitute(step["url"], variables, quote=True)
            try:
                validate_url(url)
            except ValueError as exc:
                results.append({"name": step["name"], "ok": False, "status": None, "ms": 0, "error": str(exc)})
                continue
        else:
            url = base + substitute(step["path"], variables, quote=True)
        resp = call(step["method"], url, payload=substitute(step.get("json"), variables, keep_type=True),
                    headers=substitute(step.get("headers"), variables) or None, timeout=timeout)  # fmt: skip
        error, captured = judge(step, resp)
        variables.update(captured)
        results.append({"name": step["name"], "ok": error is None, "status": resp["status"], "ms": resp["ms"],
                        "error": error})  # fmt: skip
    by_name = {step["name"]: step for step in steps}
    # A step that ran and failed reports its flow broken; one skipped for what an earlier step did not give
    # says nothing of its own.
    broken = sorted({by_name[r["name"]]["signal"] for r in results if not r["ok"] and by_name[r["name"]].get("signal")
                     and not str(r["error"] or "").startswith("skipped:")})  # fmt: skip
    return {"flows": results, "passed": all(r["ok"] for r in results), "summary": summary(results),
            "email": variables["email"], "signals": broken}  # fmt: skip
