# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook's progress updates: while a rollback runs, tell the team every N minutes how far it is and when
it should now be done.

A rollback's long steps (a database restore, an image build) are single tasks: no task boundary comes while
they run. So the update is sent by a small process of its own on the controller, beside ansible-playbook:

- runbook.rollback.notify starts it (``start()``) once it has told the team that a rollback started, when
  ``progress_minutes`` is above 0. Its settings, channel URLs and keys included, go through a pipe: never
  on a command line, in the environment or in a file.
- The timeline callback, in the playbook's own process, writes the step the run is in to
  ``<run dir>/step.json`` as each step begins (``note_step()``); the process reads it for the revised ETA.
- It stops (``stop()``) before the rollback's end is told (completed, failed, shutdown), so that no update
  ever follows the end; and by itself once ansible-playbook is gone.

The run directory is ``<temp dir>/runbook-rollback-progress-<pid of ansible-playbook>``: per run, on the
controller, private to the user (0700, refused when it is anyone else's). The process removes its own markers when
it ends; the timeline callback removes the directory when the playbook ends.

While it runs, it also escalates when the service has been down too long (the runbook's levels by downtime: past the
decision matrix's maximum downtime for the incident's priority, level 2; past an hour, 3; past four hours, 4), at
the moment that happens rather than at the run's next event: to the level's channels (PagerDuty included) and
contacts, once per level. The level reached is kept in ``<run dir>/<incident>.level`` (``reached_level()``); the
next event the run tells reads it, escalates no second time to it, and keeps it in the incident's state on the
target.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

from ansible_collections.runbook.rollback.plugins.module_utils import escalation, notify
from ansible_collections.runbook.rollback.plugins.module_utils.httpclient import request
from ansible_collections.runbook.rollback.plugins.plugin_utils import notify_plan, report_budget

# How long stop() waits, beyond the calls of one update, for the process to go before it ends it.
STOP_GRACE = 5.0
# The channels an update goes to: the team's and the public status page; PagerDuty pages nobody for it.
CHANNELS = ("slack", "statuspage", "webhook")
STEP_FILE = "step.json"


def run_dir(playbook_pid):
    return os.path.join(tempfile.gettempdir(), "runbook-rollback-progress-%d" % int(playbook_pid))


def _marker(directory, incident, what):
    return os.path.join(directory, "%s.%s" % (notify.incident_id(incident), what))


def note_step(playbook_pid, step, now=None):
    """Keep the step the run is in, for the revised ETA: only while an update process runs for this run."""
    directory = run_dir(playbook_pid)
    if not os.path.isdir(directory):
        return
    path = os.path.join(directory, STEP_FILE)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".step-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"step": str(step), "since": float(now if now is not None else time.time())}, handle)
        os.replace(tmp, path)
    except OSError:
        return  # the directory went with the process: nothing is waiting for the step any more


def forget_run(playbook_pid):
    """The playbook ended: nothing of its updates is left behind."""
    shutil.rmtree(run_dir(playbook_pid), ignore_errors=True)


def remaining_minutes(procedure, step, step_elapsed, elapsed, budget_minutes):
    """Minutes the rollback still needs, by the runbook's estimates (their upper end).

    In a runbook step of the procedure: what is left of that step's estimate (at least one minute) and the
    estimates of the steps after it. Elsewhere (no step known, or bookkeeping): what is left of the
    procedure's budget, at least one minute.
    """
    steps = (report_budget.PROCEDURES.get(procedure) or {}).get("steps") or ()
    for index, (_title, names, (_low, high)) in enumerate(steps):
        if step and step in names:
            left = max(high - float(step_elapsed or 0), 60.0)
            left += sum(later[2][1] for later in steps[index + 1 :])
            return round(left / 60.0, 1)
    if not budget_minutes:
        return None  # no estimate: the update says the ETA is unknown, as the start did
    budget = float(budget_minutes) * 60
    return round(max(budget - float(elapsed), 60.0) / 60.0, 1)


def step_title(procedure, step):
    """The runbook's name of the step a timeline step belongs to, or the timeline's own name."""
    for title, names, _budget in (report_budget.PROCEDURES.get(procedure) or {}).get("steps") or ():
        if step in names:
            return title
    return step or ""


def update(settings, now, step_note=None):
    """The context of one progress update: how long the rollback has run, where it is, the revised ETA."""
    base = settings["context"]
    elapsed = max(0.0, now - float(settings["started_epoch"]))
    step, step_elapsed = "", 0.0
    if step_note:
        step = str(step_note.get("step") or "")
        step_elapsed = max(0.0, now - float(step_note.get("since") or now))
    procedure = base.get("procedure") or ""
    raw = dict(base, event="progress", now_epoch=now, elapsed_seconds=elapsed,
               step=step_title(procedure, step),
               eta_minutes=remaining_minutes(procedure, step, step_elapsed, elapsed,
                                             (base.get("budgets") or {}).get(procedure)))  # fmt: skip
    return notify.context(raw)


def _read_step(directory):
    try:
        with open(os.path.join(directory, STEP_FILE), encoding="utf-8") as handle:
            note = json.load(handle)
    except (OSError, ValueError):
        return None
    return note if isinstance(note, dict) else None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _private_dir(directory):
    """Make the run directory, or accept it only when it is this user's own and private."""
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        info = os.lstat(directory)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise PermissionError(errno.EPERM, "not a private directory of this user", directory) from None


def _helper_pid(running):
    """The pid a running marker names, when that process is one of these update processes; else None."""
    try:
        with open(running, encoding="utf-8") as handle:
            pid = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if not _alive(pid):
        return None
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read()
    except OSError:
        return pid  # no /proc to ask (not Linux): alive is all that is known
    # Empty while the process is still being started; another program's: the pid was used again.
    return pid if not cmdline or b"plugin_utils.progress" in cmdline else None


def _being_started(running):
    """A marker claimed a moment ago, its process not named in it yet."""
    try:
        return os.path.getsize(running) == 0 and time.time() - os.path.getmtime(running) < 10
    except OSError:
        return False


def start(playbook_pid, settings):
    """Start the update process for one incident of this run, unless one runs already. True if started.

    ``settings``: context (notify.context's raw input: procedure, versions, lead, budgets, ...), started_epoch,
    interval (seconds), channels, the channels' settings, statuspage_id, tls, timeout.
    """
    directory = run_dir(playbook_pid)
    _private_dir(directory)
    incident = settings["context"].get("incident")
    running = _marker(directory, incident, "running")
    for attempt in (1, 2):
        try:
            claim = os.open(running, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            if attempt == 2 or _helper_pid(running) is not None or _being_started(running):
                return False
            # Left by a process that is gone (killed, or a pid used again): this run's updates start afresh.
            for what in ("running", "stop"):
                with contextlib.suppress(OSError):
                    os.remove(_marker(directory, incident, what))
    # The start is told in the runbook's "Notify the team" step: the run is there until its next step begins.
    note_step(playbook_pid, "notify", settings.get("started_epoch"))
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", "..", "..", "..", ".."))  # the dir with ansible_collections
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + sys.path))
    payload = dict(settings, playbook_pid=int(playbook_pid), directory=directory)
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "ansible_collections.runbook.rollback.plugins.plugin_utils.progress"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=directory, env=env, start_new_session=True, close_fds=True,
        )  # fmt: skip
        os.write(claim, b"%d\n" % child.pid)
        child.stdin.write(json.dumps(payload).encode("utf-8"))
        child.stdin.close()
    except (OSError, ValueError):
        os.close(claim)
        with contextlib.suppress(OSError):
            os.remove(running)
        raise
    os.close(claim)
    return True


def stop(playbook_pid, incident, wait=None):
    """Stop this run's update process for ``incident`` and wait until it is gone: no update after the end.

    It stops between two calls; one still being sent when ``wait`` (the calls of one update, and a grace) runs out
    is ended with SIGTERM. True once none runs."""
    directory = run_dir(playbook_pid)
    running = _marker(directory, incident, "running")
    if not os.path.exists(running):
        return False
    try:
        with open(_marker(directory, incident, "stop"), "w", encoding="utf-8") as handle:
            handle.write("stop\n")
    except OSError:
        return False
    deadline = time.monotonic() + (STOP_GRACE + 3 * 5.0 if wait is None else wait)
    while os.path.exists(running) and time.monotonic() < deadline:
        time.sleep(0.1)
    if os.path.exists(running):
        pid = _helper_pid(running)
        if pid is not None:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        for what in ("running", "stop"):
            with contextlib.suppress(OSError):
                os.remove(_marker(directory, incident, what))
    return True


def reached_level(playbook_pid, incident):
    """The level this run's update process escalated ``incident`` to (1 when it escalated nothing)."""
    try:
        with open(_marker(run_dir(playbook_pid), incident, "level"), encoding="utf-8") as handle:
            level = int(handle.read().strip() or 1)
    except (OSError, ValueError):
        return 1
    return level if level in escalation.LEVEL_NAMES else 1


def due_escalation(settings, now, reached):
    """The escalation the downtime calls for at ``now`` when it is above ``reached``, as the level's entry with its
    reasons (``{level, name, contacts, channels, reasons}``); else None.

    ``settings["escalation"]``: incident_started_epoch (when the incident began: its downtime runs from then),
    max_downtime_minutes (the decision matrix's, or None) and levels (rollback_escalation_levels)."""
    esc = settings.get("escalation") or {}
    if not esc.get("incident_started_epoch"):
        return None
    level = escalation.escalation(downtime_seconds=max(0.0, now - float(esc["incident_started_epoch"])),
                                  max_downtime_minutes=esc.get("max_downtime_minutes"))  # fmt: skip
    if level["level"] <= reached:
        return None
    entry = escalation.escalation_level_entry(esc.get("levels") or [], level["level"])
    entry["reasons"] = level["reasons"]
    return entry


def _escalate(settings, now, entry, taken_by_one=lambda: None, stopping=lambda: False):
    """Send ``entry``'s escalation to its channels, one after another until the end is being told; True when one of
    them took it. ``taken_by_one`` is called as soon as the first did (the level is kept before the other calls)."""
    esc = settings.get("escalation") or {}
    raw = dict(settings["context"], event="escalation", now_epoch=now, escalation=entry)
    ctx = notify.context(raw)
    configured = esc.get("channels") or []
    on = [c for c in configured if c in entry["channels"]] if entry["channels"] else list(configured)
    if not settings.get("statuspage_id"):
        on = [c for c in on if c != "statuspage"]
    calls = notify_plan.calls(ctx, on, esc.get("settings") or {}, settings.get("component_states") or {},
                              settings.get("statuspage_id") or "")  # fmt: skip
    taken = False
    for call in calls:
        if stopping():
            break
        answer = request(call["method"], call["url"], call["body"], call["headers"],
                         timeout=float(settings.get("timeout") or 5), tls=settings.get("tls") or {})  # fmt: skip
        if answer.get("status") in call["ok"] and not taken:
            taken = True
            taken_by_one()
    return taken


def _send(settings, ctx, stopping=lambda: False):
    on = [c for c in settings.get("channels") or [] if c in CHANNELS]
    if not settings.get("statuspage_id"):
        on = [c for c in on if c != "statuspage"]  # no incident of the start's to update: never a new one
    calls = notify_plan.calls(ctx, on, settings.get("settings") or {}, settings.get("component_states") or {},
                              settings.get("statuspage_id") or "")  # fmt: skip
    for call in calls:
        if stopping():
            return  # the end is being told: nothing more of this update
        request(call["method"], call["url"], call["body"], call["headers"], timeout=float(settings.get("timeout") or 5),
                tls=settings.get("tls") or {})  # fmt: skip


def serve(settings, clock=time.time, sleep=time.sleep):
    """Send an update every interval until told to stop or the playbook is gone; then clean up."""
    directory = settings["directory"]
    incident = settings["context"].get("incident")
    running, stopping = _marker(directory, incident, "running"), _marker(directory, incident, "stop")
    interval = max(float(settings["interval"]), 1.0)
    due = float(settings["started_epoch"]) + interval
    reached = int((settings.get("escalation") or {}).get("reached") or 1)
    # An escalation no channel took is tried again an interval later, not at every turn.
    escalate_from = 0.0
    try:
        while not os.path.exists(stopping) and _alive(int(settings["playbook_pid"])):
            now = clock()
            with contextlib.suppress(Exception):
                entry = due_escalation(settings, now, reached) if now >= escalate_from else None
                if entry and not os.path.exists(stopping):

                    def keep(level=entry["level"]):
                        # Not kept (a full disk): the run's next event may escalate to it again, never this process.
                        with contextlib.suppress(OSError), open(_marker(directory, incident, "level"), "w",
                                                                encoding="utf-8") as handle:  # fmt: skip
                            handle.write("%d\n" % level)

                    if _escalate(settings, now, entry, keep, lambda: os.path.exists(stopping)):
                        reached = entry["level"]
                    else:
                        escalate_from = now + interval
            if now < due:
                sleep(min(0.5, due - now))
                continue
            # An update that cannot be sent (a channel down, a bad answer) must not end the next ones.
            with contextlib.suppress(Exception):
                _send(settings, update(settings, now, _read_step(directory)), lambda: os.path.exists(stopping))
            due += interval * max(1, int((clock() - due) // interval) + 1)
    finally:
        for path in (stopping, running):
            with contextlib.suppress(OSError):
                os.remove(path)


def main():
    settings = json.loads(sys.stdin.read())
    serve(settings)


if __name__ == "__main__":
    main()
