# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""runbook.rollback.notify: one rollback event to every configured channel, on the controller.

The controller is where a channel's URL and key are (inventory, vault, AWX credentials) and where its
endpoint is reached from: nothing of them is sent to the target host. The incident's state (notify.json,
statuspage.json) is kept on the target, next to its reports, so that a later run from another controller
(an AWX job) carries on the same incident.

Nothing here fails the run: a bad input, a channel that does not answer and a state file that cannot be
written are each reported in ``notifications``.
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.plugins.action import ActionBase

from ansible_collections.runbook.rollback.plugins.module_utils import notify
from ansible_collections.runbook.rollback.plugins.module_utils.escalation import iso_time
from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import request
from ansible_collections.runbook.rollback.plugins.plugin_utils import notify_plan, progress

TLS_KEYS = ("validate_certs", "ca_path", "client_cert", "client_key")
# The events that end a rollback: its progress updates stop before any of them is told.
END_EVENTS = ("completed", "stable", "failed", "shutdown")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(notify.ARGUMENT_SPEC)
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # the modules run here bring their own
        self._vars = task_vars or {}
        # Raises AnsibleActionFail with the standard message on a wrong type or a missing option.
        _unused, params = self.validate_argument_spec(argument_spec=notify.ARGUMENT_SPEC)
        for channel in notify.CHANNELS:
            if params.get(channel) is None:
                # Not given: the inventory's rollback_notify_<channel>, so that no task names a secret.
                params[channel] = self._templar.template(self._vars.get("rollback_notify_" + channel) or {})
        try:
            result.update(self._notify(params))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _notify(self, params):
        now = time.time()
        event = params["event"]
        if event in END_EVENTS:
            # First of all, whatever is sent after: no progress update may follow the end. The worker's parent is
            # ansible-playbook, the run the update process belongs to.
            progress.stop(os.getppid(), notify.incident_id(params["incident"]),
                          wait=3 * float(params["timeout"]) + progress.STOP_GRACE)  # fmt: skip
        # A level this run's progress process escalated to while the rollback ran: not escalated to a second time.
        escalated_meanwhile = progress.reached_level(os.getppid(), notify.incident_id(params["incident"]))
        if escalated_meanwhile > 1:
            try:
                before = int(float(params["escalated_level"] or 1))
            except (TypeError, ValueError):
                before = 1  # the plan reports the bad value
            else:
                params["escalated_level"] = max(before, escalated_meanwhile)
        try:
            incident = notify.incident_id(params["incident"])
            on = notify_plan.configured(params, params["channels"])
            state_dir = posixpath.join(params["incidents_dir"], incident)
            kept = self._read(posixpath.join(state_dir, "notify.json")) if on else None
            planned = notify_plan.plan(params, kept, now)
        except notify_plan.NotifyInputError as exc:
            entry = {"channel": "notify", "event": event, "ok": False, "status": -1, "error": str(exc),
                     "at": iso_time(now)}  # fmt: skip
            return {"changed": False, "notifications": [entry], "msg": "notify: %s" % exc}
        out = {"changed": False, "notifications": [], "incident": incident, "configured": planned["configured"],
               "level": planned["level"], "context": planned["context"]}  # fmt: skip
        if event == "started":
            out["started_epoch"] = now
        if not planned["configured"]:
            return out
        if self._task.check_mode:
            out["notifications"] = [
                {"channel": c, "event": ctx["event"], "ok": False, "status": -1, "error": "not sent: check mode",
                 "at": iso_time(now)}
                for ctx, channels in planned["batches"] for c in channels
            ]  # fmt: skip
            return out

        tls = {key: params[key] for key in TLS_KEYS if params.get(key) is not None}
        secrets = notify_plan.secrets_of({c: params[c] for c in notify.CHANNELS})
        statuspage_file = posixpath.join(state_dir, "statuspage.json")
        statuspage_id = ""
        if "statuspage" in planned["configured"]:
            statuspage_id = (self._json(self._read(statuspage_file)) or {}).get("incident_id") or ""
        made_dir = False
        for ctx, channels in planned["batches"]:
            calls = notify_plan.calls(ctx, channels, params, params["statuspage_component_states"], statuspage_id)
            # The channels of one batch are independent: one that does not answer holds up no other.
            with ThreadPoolExecutor(max_workers=len(calls) or 1) as pool:
                answers = list(pool.map(lambda call: self._send(call, params["timeout"], tls), calls))
            for call, answer in zip(calls, answers, strict=True):
                note = ""
                if call["channel"] == "statuspage" and answer.get("status") in call["ok"]:
                    statuspage_id = statuspage_id or str((answer.get("json") or {}).get("id") or "")
                    record = {"incident_id": statuspage_id, "status": call["body"]["incident"]["status"],
                              "event": ctx["event"], "updated_at": ctx["time"]}  # fmt: skip
                    made_dir = made_dir or self._mkdir(state_dir)
                    if not (made_dir and self._write(statuspage_file, record)):
                        note = "incident id not kept in %s" % state_dir
                entry = notify.answer_delivery(call["channel"], ctx["event"], answer, call["ok"], note, secrets)
                entry["at"] = answer["at"]
                out["notifications"].append(entry)
        out["changed"] = any(entry["ok"] for entry in out["notifications"])
        reached = max(notify_plan.reached_level(planned, out["notifications"]), escalated_meanwhile)
        if event == "started":
            out["progress"] = self._start_progress(params, planned, now, statuspage_id, tls, reached)
        out["escalated_level"] = max(int(float(params["escalated_level"] or 1)), reached)
        made_dir = made_dir or self._mkdir(state_dir)
        record = notify_plan.state_record(planned, event, now, reached)
        if not (made_dir and self._write(posixpath.join(state_dir, "notify.json"), record)):
            out["warnings"] = ["the incident's start and level were not kept in %s" % state_dir]
        return out

    @staticmethod
    def _start_progress(params, planned, now, statuspage_id, tls, reached):
        """Start the progress updates of a rollback that started: every progress_minutes, until its end; the process
        also escalates when the downtime passes a level's limit meanwhile (``reached``: the level reached so far)."""
        try:
            minutes = float(params.get("progress_minutes") or 0)
        except (TypeError, ValueError):
            return "off: progress_minutes must be a number of minutes, got %r" % (params.get("progress_minutes"),)
        channels = [c for c in planned["configured"] if c in progress.CHANNELS]
        if minutes <= 0 or not channels:
            return "off"
        ctx = planned["context"]
        base = {key: ctx[key] for key in ("incident", "project", "host", "procedure", "from_version", "to_version",
                                          "run_id", "lead", "message", "public_message")}  # fmt: skip
        base["budgets"] = params.get("budgets") or {}
        settings = {
            "context": base,
            "started_epoch": now,
            "interval": minutes * 60,
            "channels": channels,
            "settings": {c: params[c] for c in channels},
            "component_states": params.get("statuspage_component_states") or {},
            "statuspage_id": statuspage_id,
            "tls": tls,
            "timeout": params["timeout"],
            "escalation": {
                "incident_started_epoch": planned["clock"]["started_epoch"],
                "max_downtime_minutes": params.get("max_downtime_minutes") or None,
                "levels": params.get("escalation_levels") or [],
                "reached": max(reached, planned["clock"]["escalated_level"],
                               int(float(params.get("escalated_level") or 1))),
                # An escalation may page: every configured channel, PagerDuty included.
                "channels": list(planned["configured"]),
                "settings": {c: params[c] for c in planned["configured"]},
            },
        }
        try:
            started = progress.start(os.getppid(), settings)
        except OSError as exc:
            return "off: could not start the updates (%s)" % exc.strerror
        return "every %g min" % minutes if started else "already running"

    @staticmethod
    def _send(call, timeout, tls):
        answer = request(call["method"], call["url"], call["body"], call["headers"], timeout=timeout, tls=tls)
        answer["at"] = iso_time(time.time())
        return answer

    # --- The incident's state, on the target --------------------------------------------------------------
    def _module(self, name, args):
        return self._execute_module(module_name=name, module_args=args, task_vars=self._vars)

    def _read(self, path):
        """A state file's text, or None when there is none (the usual case for a new incident)."""
        got = self._module("ansible.legacy.slurp", {"src": path})
        if got.get("failed") or "content" not in got:
            return None
        return base64.b64decode(got["content"]).decode("utf-8", errors="replace")

    @staticmethod
    def _json(text):
        try:
            value = json.loads(text) if text else None
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def _mkdir(self, path):
        made = self._module("ansible.legacy.file", {"path": path, "state": "directory", "mode": "0750"})
        return not made.get("failed")

    def _write(self, path, record):
        """Write a small JSON file through the copy action: a temporary file renamed, never half a file."""
        task = self._task.copy()
        task.args = {"dest": path, "content": json.dumps(record, indent=4, sort_keys=True) + "\n", "mode": "0640"}
        copy = self._shared_loader_obj.action_loader.get(
            "ansible.legacy.copy",
            task=task,
            connection=self._connection,
            play_context=self._play_context,
            loader=self._loader,
            templar=self._templar,
            shared_loader_obj=self._shared_loader_obj,
        )
        return not copy.run(task_vars=self._vars).get("failed")
