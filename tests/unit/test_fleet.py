"""A fleet's rollout: where each host stands, when the rollout ends, and the fleet's one report."""

from __future__ import annotations

from ansible_collections.runbook.rollback.plugins.filter.fleet import fleet_end
from ansible_collections.runbook.rollback.plugins.plugin_utils import fleet
from ansible_collections.runbook.rollback.plugins.plugin_utils.report_fleet import (
    build_fleet_report,
    render_fleet_html,
    render_fleet_markdown,
)

HOSTS = ["web1", "web2", "web3", "web4"]
RUN = "20261203T100000Z-1"


def run(to="v1.2.3", run_id=RUN):
    return {"run_id": run_id, "release": {"to": to}}


def rows(started, ended, failures=("", "", "", ""), canary=0):
    return fleet.host_rows(HOSTS, list(started), list(ended), list(failures), [run()] * 4, RUN, canary)


def test_each_host_is_done_failed_lost_or_not_reached():
    got = rows([RUN, RUN, RUN, "an earlier run"], [RUN, RUN, "", ""], ["", "verification failed: smoke", "", ""], 1)
    assert [(r["host"], r["state"]) for r in got] == [
        ("web1", "done"), ("web2", "failed"), ("web3", "lost"), ("web4", "not reached")]  # fmt: skip
    assert got[0]["canary"] and not got[1]["canary"]
    assert got[0]["text"] == "v1.2.3 verified" and got[1]["text"] == "failed: verification failed: smoke"
    assert fleet.summary(got) == "1 done (web1), 1 failed (web2), 1 lost (web3), 1 not reached (web4)"


def test_a_host_refused_before_its_record_began_is_failed_not_unreached():
    got = fleet.host_rows(HOSTS[:2], [RUN, RUN], [RUN, RUN], ["", "incident id must be letters"], [run(), {}], RUN)
    assert [r["state"] for r in got] == ["done", "failed"]


def test_the_canary_ends_the_rollout_when_it_fails_and_a_good_batch_lets_it_go_on():
    got = rows([RUN, "", "", ""], [RUN, "", "", ""], ["boom", "", "", ""])
    assert fleet.batch_end(got, ["web1"]) == {"ends": True, "event": "failed", "failed": 1, "size": 1}
    got = rows([RUN, RUN, "", ""], [RUN, RUN, "", ""])
    assert fleet.batch_end(got, ["web2"])["ends"] is False


def test_a_batch_stops_the_rollout_above_max_fail_percentage_or_when_all_of_it_failed():
    got = rows([RUN] * 3 + [""], [RUN] * 3 + [""], ["", "boom", "", ""])
    # web2 and web3 in one batch, one of two failed: 50 % is not more than 50 %, but more than 0 %.
    assert fleet.batch_end(got, ["web2", "web3"], 50)["ends"] is False
    assert fleet.batch_end(got, ["web2", "web3"], 0) == {"ends": True, "event": "failed", "failed": 1, "size": 2}
    got = rows([RUN] * 3 + [""], [RUN, RUN, "", ""], ["", "boom", "", ""])
    # web2 failed and web3 stopped answering: the whole batch, whatever the percentage.
    assert fleet.batch_end(got, ["web2", "web3"], 100)["ends"] is True


def test_the_last_batch_ends_the_rollout_completed_when_every_host_is_done():
    got = rows([RUN] * 4, [RUN] * 4)
    assert fleet.batch_end(got, ["web3", "web4"]) == {"ends": True, "event": "completed", "failed": 0, "size": 2}


def test_the_filter_says_it_in_words():
    out = fleet_end(HOSTS, [RUN, RUN, "", ""], [RUN, RUN, "", ""], ["", "boom", "", ""], [run()] * 4, RUN,
                    ["web2"], 0, 1)  # fmt: skip
    assert out["ends"] and out["event"] == "failed"
    assert out["text"] == ("web1 (canary): v1.2.3 verified; web2: failed: boom; web3: not reached, untouched; "
                           "web4: not reached, untouched")  # fmt: skip


def test_the_fleet_report_has_a_row_per_host_the_unreached_lost_and_refused_included():
    base = {"incident": "INC-9", "procedure": "A", "run_id": RUN, "fleet": HOSTS + ["web5"], "canary": 1}
    records = [("web1", dict(base, result="ok", to_version="v1.2.3", from_version="v1.2.4")),
               ("web2", dict(base, result="failed", reason="verification failed", to_version="v1.2.3")),
               ("web5", dict(base, run_id="an earlier run", result="ok"))]  # fmt: skip
    report = build_fleet_report(records, {"started_at": "a", "ended_at": "b", "duration": 3.0}, lost={"web3"},
                                failed={"web4"})  # fmt: skip
    states = [(r["host"], r["state"]) for r in report["hosts"]]
    assert states == [("web1", "done"), ("web2", "failed"), ("web3", "lost"), ("web4", "failed"),
                      ("web5", "not reached")]  # fmt: skip
    assert report["status"] == "failed" and report["procedure_title"]
    md = render_fleet_markdown(report)
    assert "| web1 (canary) | done | v1.2.4 → v1.2.3 | v1.2.3 verified | web1/report.md |" in md
    assert "| web5 | not reached |  | not reached, untouched |  |" in md
    page = render_fleet_html(dict(report, incident="<b>x</b>"))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page and 'href="web2/report.html"' in page
