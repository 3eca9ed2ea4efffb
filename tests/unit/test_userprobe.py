"""What users saw while a procedure ran: rounds of probes, the gaps without a good answer, the report's line."""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.module_utils.userprobe import Tally, summary_line
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_budget import users_text

T0 = 1764374400.0  # 2025-11-29T00:00:00Z


def rounds(tally, outcomes, every=0.25):
    for i, statuses in enumerate(outcomes):
        tally.add(T0 + i * every, statuses)


def test_a_gap_runs_from_the_first_failed_round_to_the_next_good_one():
    tally = Tally(["http://a/health", "http://b/health"], 0.25)
    good, none, five = [200, 200], [None, 200], [200, 503]
    # 4 good, 3 failed (no answer, no answer, 503), 2 good, 1 failed, 2 good.
    rounds(tally, [good] * 4 + [none, none, five] + [good] * 2 + [five] + [good] * 2)
    got = tally.summary()
    assert (got["rounds"], got["probes"], got["unanswered"], got["answered_5xx"]) == (12, 24, 2, 2)
    assert got["without_answer_seconds"] == 0.75 + 0.25 and got["longest_gap_seconds"] == 0.75
    assert [(g["from"], g["seconds"], g["why"]) for g in got["gaps"]] == [
        ("2025-11-29T00:00:01.00Z", 0.75, ["5xx", "no answer"]), ("2025-11-29T00:00:02.25Z", 0.25, ["5xx"])]
    assert not got["ongoing"] and got["from"] == "2025-11-29T00:00:00.00Z" and got["to"] == "2025-11-29T00:00:02.75Z"
    assert summary_line(got) == (
        "users without an answer 1.0 s (longest gap 0.8 s): 2 of 24 probes unanswered, 2 answered 5xx")


def test_a_gap_still_open_at_the_end_counts_to_the_end():
    tally = Tally(["http://a/health"], 0.25)
    rounds(tally, [[200], [None], [None]])
    got = tally.summary(ended=T0 + 2.0)
    assert got["ongoing"] and got["without_answer_seconds"] == 1.75 and got["unanswered"] == 2
    assert users_text(got).startswith(
        "1.8 s and counting (longest gap 1.8 s; 2 of 3 probes unanswered, 0 answered 5xx;")


def test_users_always_answered_and_never_probed():
    tally = Tally(["http://a/health"], 0.25)
    rounds(tally, [[200], [204], [404]])  # an answer below 500 is an answer
    got = tally.summary()
    assert got["without_answer_seconds"] == 0 and got["gaps"] == []
    assert summary_line(got) == "users always answered (3 probes, every 0.25 s)"
    assert users_text(got) == "none: all 3 probes answered (probed every 0.25 s at 1 URL)"
    assert summary_line(Tally(["http://a"], 0.25).summary()) == ""
    assert users_text({}) == "not measured (the probe made no round)"


def test_the_module_probes_until_told_to_stop_and_counts_the_gap(tmp_path, ansible_module):
    """A real server that answers, then answers 503, then answers again; the stop file ends the probe."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = {"status": 200}
    first = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            first.set()
            self.send_response(state["status"])
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stop = tmp_path / "stop"

    def script():
        first.wait(60)  # the module has started probing
        time.sleep(1.0)
        state["status"] = 503
        time.sleep(1.0)
        state["status"] = 200
        time.sleep(1.0)
        stop.write_text("")

    threading.Thread(target=script, daemon=True).start()
    try:
        res = ansible_module("user_probe", {"urls": ["http://127.0.0.1:%d/health" % server.server_address[1]],
                                            "interval": 0.1, "stop_file": str(stop), "max_seconds": 60,
                                            "out": str(tmp_path / "probe.json")})  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert res["rounds"] >= 10 and res["unanswered"] == 0 and res["answered_5xx"] >= 3, res
    assert 0.7 <= res["without_answer_seconds"] <= 1.5 and len(res["gaps"]) == 1, res
    assert res["gaps"][0]["why"] == ["5xx"] and not res["ongoing"]
    assert (tmp_path / "probe.json").read_text().startswith("{")


def test_the_module_stops_once_its_run_no_longer_holds_the_lock(tmp_path, ansible_module):
    import json
    import threading
    import time

    lock = tmp_path / "lock"
    lock.write_text(json.dumps({"run_id": "r-1"}))

    out = tmp_path / "probe.json"

    def taken_over():
        deadline = time.monotonic() + 60
        while not out.exists() and time.monotonic() < deadline:  # the probe runs, and has read its lease
            time.sleep(0.1)
        time.sleep(1.5)
        lock.write_text(json.dumps({"run_id": "r-2"}))

    threading.Thread(target=taken_over, daemon=True).start()
    started = time.monotonic()
    # Nothing listens on port 9 of the loopback: every probe unanswered.
    res = ansible_module("user_probe", {"urls": ["http://127.0.0.1:9/"], "interval": 0.2, "timeout": 0.5,
                                        "stop_file": str(tmp_path / "stop"), "max_seconds": 60, "out": str(out),
                                        "lease_file": str(lock), "lease_id": "r-1"})  # fmt: skip
    assert time.monotonic() - started < 30, "the probe outlived its run's lock"
    assert res["unanswered"] == res["probes"] > 0 and res["ongoing"], res


def test_the_module_refuses_a_bad_url(tmp_path, ansible_module):
    res = ansible_module("user_probe", {"urls": ["file:///etc/passwd"], "stop_file": str(tmp_path / "stop")})
    assert res.get("failed") and "invalid URL" in res["msg"], res
