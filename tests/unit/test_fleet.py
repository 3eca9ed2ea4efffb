"""A fleet's rollout: where each host stands, when the rollout ends, and the fleet's one report."""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.plugin_utils import fleet
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_fleet import (
    build_fleet_report,
    render_fleet_html,
    render_fleet_markdown,
)

HOSTS = ["web1", "web2", "web3", "web4"]
RUN = "20261203T100000Z-1"


def run(failure="", run_id=RUN, to="v1.2.3"):
    return {"run_id": run_id, "failure": failure, "release": {"to": to}}


def test_each_host_is_done_failed_lost_or_not_reached():
    runs = [run(), run("verification failed: smoke order"), run(), run(run_id="an earlier run")]
    rows = fleet.host_rows(HOSTS, runs, [RUN, RUN, "", RUN], RUN, canary=True)
    assert [(r["host"], r["state"]) for r in rows] == [
        ("web1", "done"), ("web2", "failed"), ("web3", "lost"), ("web4", "not reached")]  # fmt: skip
    assert rows[0]["canary"] and not rows[1]["canary"]
    assert rows[0]["text"] == "v1.2.3 verified" and rows[1]["text"] == "failed: verification failed: smoke order"
    assert fleet.summary(rows) == "1 done (web1), 1 failed (web2), 1 lost (web3), 1 not reached (web4)"


def test_the_canary_ends_the_rollout_when_it_fails_and_a_good_batch_lets_it_go_on():
    rows = fleet.host_rows(HOSTS, [run("boom")], [RUN], RUN)
    assert fleet.batch_end(rows, ["web1"]) == {"ends": True, "event": "failed", "failed": 1, "size": 1}
    rows = fleet.host_rows(HOSTS, [run(), run()], [RUN, RUN], RUN)
    assert fleet.batch_end(rows, ["web2"])["ends"] is False


def test_a_batch_stops_the_rollout_above_max_fail_percentage_only():
    runs = [run(), run("boom"), run(), run()]
    ended = [RUN] * 4
    rows = fleet.host_rows(HOSTS, runs[:3], ended[:3], RUN)
    # web2 and web3 in one batch, one of two failed: 50 % is not more than 50 %, but more than 0 %.
    assert fleet.batch_end(rows, ["web2", "web3"], 50)["ends"] is False
    assert fleet.batch_end(rows, ["web2", "web3"], 0) == {"ends": True, "event": "failed", "failed": 1, "size": 2}


def test_a_host_lost_beside_its_batch_counts_in_it_and_the_last_batch_ends_the_rollout():
    rows = fleet.host_rows(HOSTS, [run(), run(), run(), run()], [RUN, RUN, RUN, ""], RUN)
    # web4 stopped answering in the batch of web3 and web4: web3 alone is left in play.
    assert fleet.batch_end(rows, ["web3"], 60) == {"ends": True, "event": "failed", "failed": 1, "size": 2}
    rows = fleet.host_rows(HOSTS, [run()] * 4, [RUN] * 4, RUN)
    assert fleet.batch_end(rows, ["web3", "web4"]) == {"ends": True, "event": "completed", "failed": 0, "size": 2}


def test_the_fleet_report_has_a_row_per_host_the_unreached_and_lost_included():
    base = {"incident": "INC-9", "procedure": "A", "run_id": RUN, "fleet": HOSTS, "canary": True}
    records = [("web1", dict(base, result="ok", to_version="v1.2.3", from_version="v1.2.4")),
               ("web2", dict(base, result="failed", reason="verification failed", to_version="v1.2.3"))]  # fmt: skip
    report = build_fleet_report(records, {"started_at": "a", "ended_at": "b", "duration": 3.0}, lost={"web3"})
    assert [(r["host"], r["state"]) for r in report["hosts"]] == [
        ("web1", "done"), ("web2", "failed"), ("web3", "lost"), ("web4", "not reached")]  # fmt: skip
    assert report["status"] == "failed" and report["procedure_title"]
    md = render_fleet_markdown(report)
    assert "| web1 (canary) | done | v1.2.4 → v1.2.3 | v1.2.3 verified | web1/report.md |" in md
    assert "| web4 | not reached |  | not reached, untouched |  |" in md
    page = render_fleet_html(dict(report, incident="<b>x</b>"))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page and 'href="web2/report.html"' in page
