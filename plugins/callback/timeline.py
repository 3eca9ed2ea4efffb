# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: timeline
type: aggregate
short_description: Per-step timeline of a runbook run
description:
  - Records the runbook's steps, one per role (preflight, stop, checkout, staged_restart, verify, ...), in the order
    they first run, with start, end, duration, status and number of tasks.
  - A step is V(failed) when one of its tasks failed without being rescued or ignored, V(skipped) when all of its
    tasks were skipped, and V(ok) otherwise. Tasks outside roles count towards the overall status only.
  - At the end of the playbook prints a compact C(RUNBOOK TIMELINE) table and, when O(dir) is set, writes the
    timeline as JSON to C(<dir>/<UTC timestamp>-<playbook>.json) and C(<dir>/latest.json).
  - Besides names, times, statuses, hosts and runbook budgets it records only the extra variable C(version); no
    other variable values, so no secrets end up in the timeline.
  - When the play published a C(runbook_report) record (the C(runbook.rollback.report) role does, with
    C(set_stats)), prints each runbook step's time against the runbook's budget and writes the incident
    report (C(report.json), C(report.md), C(report.html), C(postmortem.md), C(timeline.json)) on the controller.
  - Several hosts write their reports under C(<incident>/<host>/); a fleet (the record names the play's hosts)
    also gets one report at C(<incident>/), a row per host, the hosts never reached included.
author:
  - runbook.rollback maintainers (!UNKNOWN)
requirements:
  - the collection's playbooks load it by themselves (playbooks/callback_plugins); elsewhere enable it in
    configuration, for example C(callbacks_enabled = runbook.rollback.timeline)
extends_documentation_fragment:
  - runbook.rollback.timeline
"""

import datetime
import getpass
import json
import os
import socket
import tempfile
import time

from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import filter_loader, test_loader
from ansible.utils.display import Display

from ansible_collections.runbook.rollback.plugins.plugin_utils import progress, report_fleet, running
from ansible_collections.runbook.rollback.plugins.plugin_utils import report as incident_report

try:
    from ansible_collections.runbook.rollback.plugins.plugin_utils.report_html import render_html
except ImportError:  # pragma: no cover - the HTML renderer ships with the collection
    render_html = None


def controller_user():
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (containers)
        return "uid %d" % os.getuid()


# What the report role publishes with set_stats.
RECORD_KEY = "runbook_report"


def _iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _uuids(tasks):
    return {getattr(t, "_uuid", None) for t in tasks or []}


def is_rescued(task):
    """Whether a failure of this task will be handled by a rescue section around it.

    Walks up the parent chain: a task (or nested block) that sits in the main section of a
    block with a rescue section is rescued; one already in a rescue or always section is not.
    """
    node = task
    parent = getattr(task, "_parent", None)
    seen = 0
    while parent is not None and seen < 100:
        seen += 1
        if hasattr(parent, "block") and hasattr(parent, "rescue"):
            if parent.rescue and getattr(node, "_uuid", None) in _uuids(parent.block):
                return True
        node = parent
        parent = getattr(parent, "_parent", None)
    return False


def result_task(result):
    # ansible-core 2.19 added .task and deprecated ._task; older releases only have ._task.
    return getattr(result, "task", None) or result._task


# Ansible adds an argument-spec check at the start of every role that has one; a role made of
# nothing else (shared defaults) is not a runbook step.
IMPLICIT_ACTIONS = frozenset(("validate_argument_spec", "ansible.builtin.validate_argument_spec"))


# The step marker: a tasks file says which runbook step it is with a block around its tasks,
#   - name: Step stop
#     vars: {rollback_step: stop}
#     block: [...]
# and its tasks are that step's, whichever file or playbook entered it; renaming the file changes nothing.
STEP_VAR = "rollback_step"


def step_marker(task):
    """The outermost step marker among the blocks and includes around ``task`` in its own role.

    The outermost one wins: a step's file may include another step's file (preflight's main includes its
    lock check) and its tasks stay in the step that was entered. The walk stops at the role's edge: the
    procedure that entered the role is not the step.
    """
    role = getattr(task, "_role", None)
    found = None
    node = getattr(task, "_parent", None)
    while node is not None and getattr(node, "_role", None) is role:
        try:
            marker = (getattr(node, "vars", None) or {}).get(STEP_VAR)
        except AttributeError:
            marker = None
        if isinstance(marker, str) and marker:
            found = marker
        node = getattr(node, "_parent", None)
    return found


def step_name(task):
    """The step a task counts in: its step marker, else its role and entry point (role_name)."""
    if getattr(task, "action", None) in IMPLICIT_ACTIONS:
        return None
    return step_marker(task) or role_name(task)


def role_name(task):
    role = getattr(task, "_role", None)
    if role is None or getattr(task, "action", None) in IMPLICIT_ACTIONS:
        return None
    try:
        name = role.get_name(include_role_fqcn=False)
    except TypeError:  # very old Role API without the keyword
        name = role.get_name().rsplit(".", 1)[-1]
    # A role entered through several tasks files (tasks_from) is one step per entry point: the restore's
    # side copy and its swap are different steps of Procedure B, far apart in time.
    entry = (getattr(role, "_from_files", None) or {}).get("tasks")
    if entry:
        entry = entry.rsplit("/", 1)[-1]
        for suffix in (".yml", ".yaml"):
            entry = entry[: -len(suffix)] if entry.endswith(suffix) else entry
        if entry != "main":
            name = "%s_%s" % (name, entry)
    return name


class Step:
    def __init__(self, name, now):
        self.name = name
        self.started = now
        self.ended = now
        self.tasks = set()
        self.hosts = []
        self.counts = {"ok": 0, "failed": 0, "skipped": 0, "rescued": 0, "ignored": 0, "unreachable": 0}

    @property
    def status(self):
        c = self.counts
        if c["failed"] or c["unreachable"]:
            return "failed"
        if c["skipped"] and not (c["ok"] or c["rescued"] or c["ignored"]):
            return "skipped"
        if not any(c.values()):
            return "skipped"
        return "ok"

    def as_dict(self):
        return {
            "name": self.name,
            "started_at": _iso(self.started),
            "ended_at": _iso(self.ended),
            "duration": round(self.ended - self.started, 3),
            "status": self.status,
            "tasks": len(self.tasks),
            "rescued": self.counts["rescued"],
            "hosts": list(self.hosts),
        }


def load_collection_templating_plugins():
    """Load this collection's filter and test plugins once, in the controller's main process.

    Every task runs in a worker forked from that process, and a worker that meets a filter or test of a
    collection the main process never loaded resolves and imports it again: about 0.1 s of CPU per task
    that uses one, on tasks that cost a few tens of milliseconds otherwise. Loaded here, before the first
    fork, every worker inherits them. A plugin that cannot be loaded is left to fail where it is used.
    """
    plugins = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for kind, loader in (("filter", filter_loader), ("test", test_loader)):
        directory = os.path.join(plugins, kind)
        names = sorted(n[:-4] for n in os.listdir(directory) if n.endswith(".yml")) if os.path.isdir(directory) else []
        for name in names:
            try:
                loader.get_with_context("runbook.rollback." + name)
            except Exception as err:  # pylint: disable=broad-exception-caught
                Display().vvvv("timeline: %s plugin runbook.rollback.%s not loaded ahead: %s" % (kind, name, err))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "runbook.rollback.timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self.playbook = None
        self.version = None
        self.started = time.time()
        self.steps = {}
        # A fleet's hosts run the same steps one batch after another: each host's own steps too, for its report.
        self.host_steps = {}
        self.last_seen = {}
        # Hosts that stopped answering: host -> (step, task) it was in.
        self.lost = {}
        self.disabled = False
        self.noted_step = None

    # -- recording -----------------------------------------------------------------------------

    def _step_for(self, task, extend=True):
        name = step_name(task)
        if not name:
            return None
        now = time.time()
        step = self.steps.get(name)
        if step is None:
            step = self.steps[name] = Step(name, now)
        if extend:
            step.ended = max(step.ended, now)
        return step

    def steps_so_far(self, host=None):
        """The steps as they stand now (a host's own, when it has some), in the order they began, and when the
        playbook started (for the lookup runbook_steps)."""
        # A host's own steps for a fleet's (each host's from its own first task); the run's for a single host.
        steps = (self.host_steps.get(host) if len(self.host_steps) > 1 else None) or self.steps
        return [step.as_dict() for step in sorted(steps.values(), key=lambda step: step.started)], self.started

    def about(self):
        """The playbook's name and the release it was asked for (for the lookup runbook_steps)."""
        return {"playbook": self.playbook, "version": self.version}

    def _count(self, result, outcome):
        # A skipped task does no work: it must not stretch its step to where it was skipped (a
        # procedure's later fallback attempt, skipped, would otherwise span the steps in between).
        task = result_task(result)
        step = self._step_for(task, extend=outcome != "skipped")
        if step is not None and outcome != "skipped" and step.name != self.noted_step:
            # The step a rollback's progress updates say it is in (only kept while updates are on): the one whose
            # task last ran; a step entered again (a fallback attempt) starts again.
            self.noted_step = step.name
            progress.note_step(os.getpid(), step.name)
        host = getattr(getattr(result, "_host", None), "name", None)
        now = time.time()
        if step is not None:
            step.counts[outcome] += 1
            if host and host not in step.hosts:
                step.hosts.append(host)
        if step is not None and host:
            # The host's own step begins when the host finished its task before (its first task's start is
            # not told per host).
            steps = self.host_steps.setdefault(host, {})
            own = steps.get(step.name)
            if own is None:
                own = steps[step.name] = Step(step.name, self.last_seen.get(host, now))
                own.hosts.append(host)
            if outcome != "skipped":
                own.ended = max(own.ended, now)
            own.counts[outcome] += 1
            own.tasks.add(getattr(task, "_uuid", None))
        if host:
            self.last_seen[host] = now

    def v2_playbook_on_start(self, playbook):
        name = getattr(playbook, "_file_name", "") or "playbook"
        # Ad-hoc commands run through a synthetic playbook; a timeline there is only noise
        # (and would corrupt machine-readable stdout such as the json callback's).
        self.disabled = name == "__adhoc_playbook__"
        self.playbook = os.path.basename(name)
        self.started = time.time()
        # What a lookup in a task's worker reads (plugin_utils/running.py, lookup runbook_steps).
        running.TIMELINE[:] = [] if self.disabled else [self]
        if not self.disabled:
            load_collection_templating_plugins()

    def v2_playbook_on_play_start(self, play):
        # A play that says so starts the timeline anew (playbooks/drill.yml: the drill's time begins once its broken
        # release runs; the deploy before it is the drill's setting). Only true as written in the play counts (a
        # boolean, or the word true), never a template.
        restart = (getattr(play, "vars", None) or {}).get("rollback_timeline_restart")
        if restart is True or str(restart).lower() == "true":
            self.steps, self.host_steps = {}, {}
            self.started = time.time()
        if self.version is not None:
            return
        try:
            extra = play.get_variable_manager().extra_vars
        except AttributeError:
            return
        version = extra.get("version") if hasattr(extra, "get") else None
        if version is not None:
            # Only this one variable is ever recorded; it is what the run is about, not a secret.
            self.version = str(version)

    def v2_playbook_on_task_start(self, task, is_conditional):
        # The step ends with its last task's result, not with the start of a task that may be skipped.
        step = self._step_for(task, extend=False)
        if step is not None:
            step.tasks.add(task._uuid)

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_runner_on_ok(self, result):
        self._count(result, "ok")

    def v2_runner_on_skipped(self, result):
        self._count(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        if getattr(result_task(result), "ignore_unreachable", False):
            self._count(result, "ignored")
        else:
            self._count(result, "unreachable")
            host = getattr(getattr(result, "_host", None), "name", None)
            task = result_task(result)
            if host and host not in self.lost:
                self.lost[host] = (step_name(task), getattr(task, "name", "") or getattr(task, "action", ""))

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if ignore_errors:
            self._count(result, "ignored")
        elif is_rescued(result_task(result)):
            self._count(result, "rescued")
        else:
            self._count(result, "failed")

    # -- reporting -------------------------------------------------------------------------------

    def timeline(self, stats, ended):
        hosts = {}
        failed = False
        for host in sorted(stats.processed):
            s = stats.summarize(host)
            hosts[host] = s
            failed = failed or bool(s.get("failures") or s.get("unreachable"))
        return {
            "playbook": self.playbook,
            "version": self.version,
            "started_at": _iso(self.started),
            "ended_at": _iso(ended),
            "duration": round(ended - self.started, 3),
            "status": "failed" if failed else "ok",
            "steps": [s.as_dict() for s in self.steps.values()],
            "hosts": hosts,
        }

    def _table(self, data):
        width = max([len(s["name"]) for s in data["steps"]] + [len("total")])
        title = "RUNBOOK TIMELINE (%s)" % data["playbook"]
        if data["version"]:
            title += " version %s" % data["version"]
        lines = [title]
        rows = [(s["name"], s["duration"], s["status"]) for s in data["steps"]]
        rows.append(("total", data["duration"], data["status"]))
        for name, duration, status in rows:
            lines.append("  %s %9.1fs  %s" % (name.ljust(width), float(duration), status))
        return "\n".join(lines)

    @staticmethod
    def _put(directory, name, text):
        # Write-then-rename: a dashboard polling latest.json never reads half a file. Owner and group
        # only: an incident's report and timeline name people, hosts and what failed.
        fd, tmp = tempfile.mkstemp(prefix=".timeline.", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o640)
        os.replace(tmp, os.path.join(directory, name))

    def _write(self, directory, data):
        directory = os.path.abspath(os.path.expanduser(directory))
        os.makedirs(directory, exist_ok=True)
        stem = os.path.splitext(data["playbook"] or "playbook")[0]
        stamp = datetime.datetime.fromtimestamp(self.started, datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        text = json.dumps(data, indent=2, sort_keys=False) + "\n"
        name = "%s-%s.json" % (stamp, stem)
        for target in (name, "latest.json"):
            self._put(directory, target, text)
        return os.path.join(directory, name)

    @staticmethod
    def records(stats):
        """(host, record) of every host whose play published a report record, in host order."""
        custom = getattr(stats, "custom", None) or {}
        out = []
        for host in sorted(h for h in custom if h != "_run"):
            record = (custom.get(host) or {}).get(RECORD_KEY)
            if isinstance(record, dict) and record.get("procedure"):
                out.append((host, record))
        run = (custom.get("_run") or {}).get(RECORD_KEY)
        if not out and isinstance(run, dict) and run.get("procedure"):
            out.append((run.get("target") or "_run", run))
        return out

    def _report_dir(self, record, host, several):
        incident = incident_report.safe_incident(
            record.get("incident"), "run-%s" % (incident_report.safe_incident(record.get("run_id"), "unknown"))
        )
        base = self.get_option("report_dir")
        if base:
            directory = os.path.join(base, incident)
        else:
            directory = record.get("report_dir") or os.path.join(".", "incidents", incident)
        if several:
            directory = os.path.join(directory, host)
        return os.path.abspath(os.path.expanduser(directory))

    def lost_line(self, host):
        """The one line for a host that stopped answering: where it was, and what is known of its stack."""
        step, task = self.lost[host]
        # The runbook's steps it got through (a procedure's own tasks, procedure_a, are not one).
        done = [s.name for s in self.host_steps.get(host, {}).values()
                if s.status == "ok" and s.name != step and not s.name.startswith("procedure_")]  # fmt: skip
        where = "in step %s (task %r)" % (step, task) if step else "at task %r" % task
        known = ("after %s" % ", ".join(done)) if done else "before any step was done"
        return (
            "%s stopped answering %s, %s%s: its stack may be part-way through this run, and its lock (if this run "
            "took it) stays on it; once it answers, the next run finds that lock stale and takes over with "
            "-e break_lock=true" % (host, where, known, (" (version %s asked)" % self.version) if self.version else "")
        )

    def host_timeline(self, data, host):
        """The timeline of one host of several: its own steps, from its first to its last."""
        steps = [s.as_dict() for s in self.host_steps.get(host, {}).values()]
        if not steps:
            return data
        started = min(s.started for s in self.host_steps[host].values())
        ended = max(s.ended for s in self.host_steps[host].values())
        status = "failed" if any(s["status"] == "failed" for s in steps) else "ok"
        summary = data["hosts"].get(host) or {}
        if summary.get("failures") or summary.get("unreachable"):
            status = "failed"
        own = dict(data, started_at=_iso(started), ended_at=_iso(ended), duration=round(ended - started, 3),
                   status=status, steps=steps, hosts={host: summary})  # fmt: skip
        return self.with_budgets(own, data.get("procedure"))

    @staticmethod
    def with_budgets(data, procedure):
        """A procedure's steps carry the runbook's name and time estimate for them."""
        data["procedure"] = procedure
        budgets = incident_report.step_budgets(procedure)
        for step in data["steps"]:
            label, budget = budgets.get(step["name"], (None, None))
            step.update(runbook_step=label, budget=budget)
        return data

    def _report(self, data, host, record, several):
        if several:
            data = self.host_timeline(data, host)
        if not record.get("by") or record.get("by") == "unknown":
            # Nobody named in the environment the play saw: the controller's own account ran it.
            record = dict(record, by=controller_user())
        report = incident_report.build_report(record, data, controller=socket.gethostname())
        lines = incident_report.budget_table(report["procedure"], report["steps"], data["duration"], report["status"])
        if lines:
            self._display.display("\n".join(lines), screen_only=True)
        directory = self._report_dir(record, host, several)
        try:
            os.makedirs(directory, exist_ok=True)
            self._put(directory, "timeline.json", json.dumps(data, indent=2) + "\n")
            self._put(directory, "report.json", json.dumps(report, indent=2) + "\n")
            self._put(directory, "report.md", incident_report.render_markdown(report))
            self._put(directory, "postmortem.md", incident_report.render_postmortem(report))
            if render_html is not None:
                self._put(directory, "report.html", render_html(report))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            self._display.warning("incident report not written to %s: %s" % (directory, exc))
        else:
            self._display.display(
                "incident report written to %s (report.md, report.html, postmortem.md)" % directory, screen_only=True
            )

    def v2_playbook_on_stats(self, stats):
        progress.forget_run(os.getpid())
        if self.disabled:
            return
        data = self.timeline(stats, time.time())
        records = self.records(stats)
        if records:
            self.with_budgets(data, records[0][1].get("procedure"))
        self._display.display(self._table(data), screen_only=True)
        directory = self.get_option("dir")
        if directory:
            try:
                path = self._write(directory, data)
            except OSError as exc:
                self._display.warning("runbook timeline not written to %s: %s" % (directory, exc))
            else:
                self._display.display("timeline written to %s" % path, screen_only=True)
        fleet = bool(report_fleet.fleet_of(records)[0])
        for host, record in records:
            # A fleet's hosts each have their directory, even when one alone published a record.
            self._report(data, host, record, several=len(records) > 1 or fleet)
        if fleet:
            lost = {h for h, s in data["hosts"].items() if s.get("unreachable")}
            failed = {h for h, s in data["hosts"].items() if s.get("failures")}
            self._fleet_report(data, records, lost, failed)
        # Under AWX the controller's copy goes with the job's container: the run ends saying where the report stays.
        if os.environ.get("JOB_ID"):
            for host, record in records:
                if record.get("target_dir"):
                    line = "incident report kept on %s in %s (and in this job's artifacts: runbook_report)" % (
                        record.get("target") or host,
                        record["target_dir"],
                    )
                    self._display.display(line, screen_only=True)
        # The run's last words: a host that stopped answering, and what is known of its stack.
        for host in sorted(self.lost):
            self._display.display(self.lost_line(host), screen_only=True)

    def _fleet_report(self, data, records, lost, failed):
        """A fleet's report, one row per host, in its incident's directory beside each host's own."""
        report = report_fleet.build_fleet_report(records, data, lost, failed)
        directory = self._report_dir(records[0][1], records[0][0], several=False)
        try:
            os.makedirs(directory, exist_ok=True)
            self._put(directory, "report.json", json.dumps(report, indent=2) + "\n")
            self._put(directory, "report.md", report_fleet.render_fleet_markdown(report))
            self._put(directory, "report.html", report_fleet.render_fleet_html(report))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            self._display.warning("fleet report not written to %s: %s" % (directory, exc))
        else:
            self._display.display("fleet report written to %s: %s" % (directory, report["summary"]), screen_only=True)
