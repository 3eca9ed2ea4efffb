# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of runbook.rollback.lock.

The run that holds the lock is the ansible-playbook process on the controller, so its host, pid
and start time are read here, and a holder's liveness is judged here too: on the target the
module only sees its own short-lived process. The module on the target reads, takes and removes
the file; a lock is broken only when asked, only when its holder is not alive, and only if the
file still has the exact content that was judged.

Under AWX/Tower each job runs in a container of its own, so the lock also names the job (JOB_ID and
AWX_HOST, from the environment AWX gives the job, never from a variable), and another job's lock is
judged by asking AWX's API whether that job is over, with the credentials a job template's credential of
the type "Red Hat Ansible Automation Platform" injects (CONTROLLER_HOST and CONTROLLER_OAUTH_TOKEN, or
CONTROLLER_USERNAME and CONTROLLER_PASSWORD; the TOWER_* names too).
"""

from __future__ import annotations

import base64
import json
import os

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase

from ansible_collections.runbook.rollback.plugins.module_utils.lock import (
    PRESENT,
    broken_warning,
    forked_survivors,
    held_message,
    judge_holder,
    may_break,
    run_identity,
)

MODULE = "runbook.rollback.lock"


def _env(*names):
    return next((os.environ[n] for n in names if os.environ.get(n)), "")


def awx_job_status(holder, timeout=10):
    """(status, None) of the AWX job that holds the lock, as AWX's API gives it, or (None, why not)."""
    base = (_env("CONTROLLER_HOST", "TOWER_HOST") or holder.get("awx_host") or "").rstrip("/")
    if not base:
        return None, "the lock names no AWX, and this job has no AWX credential (CONTROLLER_HOST)"
    if "://" not in base:
        base = "https://" + base
    token = _env("CONTROLLER_OAUTH_TOKEN", "TOWER_OAUTH_TOKEN")
    user, password = _env("CONTROLLER_USERNAME", "TOWER_USERNAME"), _env("CONTROLLER_PASSWORD", "TOWER_PASSWORD")
    if token:
        headers = {"Authorization": "Bearer " + token}
    elif user and password:
        headers = {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}
    else:
        return None, "this job has no AWX credential to ask %s with (CONTROLLER_OAUTH_TOKEN, or a user and " \
                     "password)" % base
    verify = boolean(_env("CONTROLLER_VERIFY_SSL", "TOWER_VERIFY_SSL") or "true", strict=False)
    url = "%s/api/v2/jobs/%s/" % (base, holder["awx_job"])
    try:
        with open_url(url, headers=dict(headers, Accept="application/json"), timeout=timeout,
                      validate_certs=verify, follow_redirects="safe") as resp:  # fmt: skip
            status = json.loads(resp.read().decode("utf-8")).get("status")
    except Exception as exc:  # any failure to ask means: not known
        return None, "asking %s failed: %s" % (url, getattr(exc, "reason", None) or exc)
    return (str(status), None) if status else (None, "%s gave no status" % url)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # the module needs no remote files of ours
        try:
            result.update(self._take_or_release(task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _take_or_release(self, task_vars):
        args = dict(self._task.args)
        try:
            break_lock = boolean(args.get("break_lock", False), strict=True)
        except TypeError as exc:
            return {"failed": True, "msg": "break_lock: %s" % exc}
        # Who this run is, from this controller process and the environment only: the task's own arguments
        # and variables never name the owner.
        me = run_identity()
        for key in ("host", "pid", "started", "command", "awx_job", "awx_host"):
            args[key] = me[key]
        foreign_grace = args.get("foreign_grace", 3600)

        first = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        if args.get("state", PRESENT) != PRESENT or not first.get("failed") or not first.get("fingerprint"):
            return first

        # Another run's lock, or an unreadable one: say what this controller can tell about it.
        holder = None if first.get("unreadable") else first.get("holder")
        liveness = judge_holder(holder, me["host"], survivors=lambda h: forked_survivors(h, me["pid"]),
                                foreign_grace=int(foreign_grace or 0), awx_job=me["awx_job"],
                                awx_status=awx_job_status)  # fmt: skip
        first["liveness"] = liveness[0]
        if holder is not None:
            first["msg"] = held_message(args["path"], holder, liveness, break_lock)
            # The module's captured error would be shown instead of the message said here.
            first.pop("exception", None)
        if not break_lock or not may_break(liveness[0]):
            return first

        second = self._execute_module(
            module_name=MODULE, module_args=dict(args, break_fingerprint=first["fingerprint"]), task_vars=task_vars
        )
        second["liveness"] = liveness[0]
        if second.get("failed") and second.get("holder") and not second.get("unreadable"):
            # Another run took the lock between the judgement and the break (runs breaking one stale lock
            # at once): that run is judged in turn, and the message says what it is.
            taken = second["holder"]
            again = judge_holder(taken, me["host"], survivors=lambda h: forked_survivors(h, me["pid"]),
                                 foreign_grace=int(foreign_grace or 0), awx_job=me["awx_job"],
                                 awx_status=awx_job_status)  # fmt: skip
            second["liveness"] = again[0]
            second["msg"] = held_message(args["path"], taken, again, break_lock) + (
                "; it took the lock while this run was breaking the one before, which is therefore left to it")
            second.pop("exception", None)
        if second.get("broken"):
            second.setdefault("warnings", []).append(broken_warning(args["path"], holder, liveness))
        return second
