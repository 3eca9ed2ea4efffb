"""The runbook's progress updates while a rollback runs: the revised ETA, and the process that sends them.

The process is started for real (our own interpreter, settings through a pipe) and sends to a local HTTP server
standing in for Slack and a webhook.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.runbook.rollback.plugins.plugin_utils import progress

SLACK_TOKEN = "T000/B000/progress-secret-token"


@pytest.mark.parametrize(
    "procedure, step, step_elapsed, elapsed, budget, minutes",
    [
        # B restoring for 100 s: 560 s left of its 660, then code (60), restart (180) and verify (120).
        ("B", "restore_side", 100, 400, 20, 15.3),
        # A step past its estimate still counts a minute, plus the steps after it.
        ("A", "staged_restart", 900, 1000, 10, 3.0),
        ("A", "verify", 30, 200, 10, 1.5),
        # Bookkeeping or no step known: what is left of the procedure's budget, at least a minute.
        ("A", "history", 5, 120, 10, 8.0),
        ("A", "", 0, 1200, 10, 1.0),
        ("X", "verify", 0, 0, None, None),  # no estimate at all: the ETA is unknown
    ],
)
def test_remaining_minutes(procedure, step, step_elapsed, elapsed, budget, minutes):
    assert progress.remaining_minutes(procedure, step, step_elapsed, elapsed, budget) == minutes


def test_an_update_names_the_runbook_step_and_the_revised_eta():
    settings = {"started_epoch": 1000.0, "context": {
        "incident": "INC-9", "project": "shop", "procedure": "B", "from_version": "v2", "to_version": "v1",
        "lead": "alice", "budgets": {"B": 20}}}  # fmt: skip
    ctx = progress.update(settings, 1000.0 + 960, {"step": "restore_swap", "since": 1000.0 + 900})
    assert ctx["event"] == "progress"
    assert ctx["step"] == "Steps 3-4: stop the application, restore the database"
    assert ctx["elapsed_seconds"] == 960
    assert ctx["eta"].endswith("UTC (~16 min)")  # 600 s left of the step's 660, then 360 s of steps


class Recorder:
    """A local server that keeps every JSON body posted to it, with the time it came."""

    def __init__(self):
        self.got: list[tuple[float, str, dict]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.got.append((time.time(), self.path, json.loads(body or b"{}")))
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    rec = Recorder()
    yield rec
    rec.close()


@pytest.fixture
def tmpdir_for_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def settings_for(recorder, incident="INC-P", interval=1.0):
    return {
        "context": dict(
            incident=incident,
            project="shop",
            host="prod-1",
            procedure="A",
            run_id="r1",
            from_version="v1.2.4",
            to_version="v1.2.3",
            lead="alice",
            message="",
            public_message="",
            budgets={"A": 10},
        ),
        "started_epoch": time.time(),
        "interval": interval,
        "channels": ["slack", "webhook"],
        "settings": dict(
            slack={"webhook_url": recorder.base + "/slack/" + SLACK_TOKEN}, webhook={"url": recorder.base + "/hook"}
        ),
        "statuspage_id": "",
        "tls": {},
        "timeout": 2,
    }


def wait_for(condition, seconds=15.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_updates_come_every_interval_and_none_after_the_stop(recorder, tmpdir_for_runs):
    pid = os.getpid()
    assert progress.start(pid, settings_for(recorder))
    assert not progress.start(pid, settings_for(recorder)), "a second process for the same incident"
    progress.note_step(pid, "staged_restart")
    wait_for(lambda: len([g for g in recorder.got if g[1].startswith("/slack")]) >= 2)
    assert progress.stop(pid, "INC-P")
    stopped = time.time()
    time.sleep(1.5)  # longer than the interval: an update would have come
    assert all(at <= stopped for at, _path, _body in recorder.got)
    texts = [body["text"] for _at, path, body in recorder.got if path.startswith("/slack")]
    assert texts[-1].startswith("⏳ ROLLBACK STILL IN PROGRESS on shop: Procedure A, v1.2.4 → v1.2.3 (")
    assert "now: Step 4: rebuild and restart in stages" in texts[-1] and "Revised ETA: " in texts[-1]
    hooks = [body for _at, path, body in recorder.got if path == "/hook"]
    assert {h["event"] for h in hooks} == {"progress"} and hooks[-1]["incident"] == "INC-P"
    # Nothing of the process is left; its settings (the token) were never in a file.
    directory = progress.run_dir(pid)
    assert sorted(os.listdir(directory)) == ["step.json"]
    assert SLACK_TOKEN not in (directory + "/step.json") and SLACK_TOKEN not in open(directory + "/step.json").read()
    progress.forget_run(pid)
    assert not os.path.exists(directory)
    assert not progress.stop(pid, "INC-P"), "nothing runs any more"


def test_the_process_ends_with_the_playbook(recorder, tmpdir_for_runs):
    playbook = subprocess.Popen(["sleep", "2"])  # stands in for ansible-playbook
    try:
        assert progress.start(playbook.pid, settings_for(recorder, incident="INC-Q", interval=30))
        running = os.path.join(progress.run_dir(playbook.pid), "INC-Q.running")
        assert os.path.exists(running)
        playbook.wait()
        wait_for(lambda: not os.path.exists(running))
    finally:
        playbook.kill()
        playbook.wait()
    assert recorder.got == []  # its first update was 30 s away


def test_a_marker_left_by_a_process_that_is_gone_does_not_stop_new_updates(recorder, tmpdir_for_runs):
    pid = os.getpid()
    gone = subprocess.Popen(["true"])
    gone.wait()
    directory = progress.run_dir(pid)
    os.makedirs(directory, mode=0o700)
    with open(os.path.join(directory, "INC-S.running"), "w") as marker:
        marker.write(f"{gone.pid}\n")
    assert progress.start(pid, settings_for(recorder, incident="INC-S", interval=30))
    assert progress.stop(pid, "INC-S")
    progress.forget_run(pid)


def test_the_process_escalates_once_when_the_downtime_passes_the_matrix_maximum(recorder, tmpdir_for_runs):
    pid = os.getpid()
    settings = settings_for(recorder, incident="INC-E", interval=30)
    # The incident began 58 s ago; the matrix allows 1 min of downtime: passed within about 2 s.
    settings["escalation"] = {
        "incident_started_epoch": time.time() - 58, "max_downtime_minutes": 1, "reached": 1,
        "levels": [{"level": 2, "name": "DevOps lead", "contacts": ["@lead"], "channels": ["slack", "pagerduty"]}],
        "channels": ["slack", "pagerduty", "webhook"],
        "settings": dict(settings["settings"], pagerduty={"routing_key": "rk-1", "events_url": recorder.base + "/pd"}),
    }  # fmt: skip
    assert progress.due_escalation(settings, time.time(), 1) is None, "not passed yet"
    assert progress.start(pid, settings)
    wait_for(lambda: progress.reached_level(pid, "INC-E") == 2)
    time.sleep(1.5)  # a second escalation to the same level would have come by now
    assert progress.stop(pid, "INC-E")
    sent = [(path, body) for _at, path, body in recorder.got]
    # The level's channels only (Slack and PagerDuty, not the webhook), once each; no progress update was due yet.
    assert [path.split("/")[1] for path, _body in sent] in (["slack", "pd"], ["pd", "slack"]), sent
    slack = next(body for path, body in sent if path.startswith("/slack"))
    assert slack["text"].startswith("⚠️ ESCALATION on shop to level 2 (DevOps lead): the interruption (1m) passed the "
                                    "maximum downtime of 1 min the decision matrix allows"), slack["text"]  # fmt: skip
    page = next(body for path, body in sent if path == "/pd")
    assert (page["event_action"], page["routing_key"], page["payload"]["custom_details"]["contacts"]) == (
        "trigger", "rk-1", ["@lead"])  # fmt: skip
    # Kept for the run's next event, which escalates no second time to it.
    assert progress.reached_level(pid, "INC-E") == 2
    assert progress.due_escalation(settings, time.time(), 2) is None
    progress.forget_run(pid)
    assert progress.reached_level(pid, "INC-E") == 1
