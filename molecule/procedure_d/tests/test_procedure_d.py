"""After the Procedure D drill: the evidence of the running stack is kept, and nothing of it runs."""

import os

from drill_checks import INCIDENTS, SERVICES, read_json

PROJECT = "drill-procedure-d"
EVIDENCE = os.path.join(INCIDENTS, "drill", "evidence")


def test_nothing_of_the_project_runs(host):
    out = host.check_output("docker ps -q --filter label=com.docker.compose.project=%s", PROJECT)
    assert out == ""
    # Stopped, not removed: the containers are still there to inspect.
    out = host.check_output("docker ps -aq --filter label=com.docker.compose.project=%s", PROJECT)
    assert len(out.split()) == len(SERVICES)


def test_the_evidence_of_every_container_is_kept(host):
    (stamp,) = host.check_output("ls -1 %s", EVIDENCE).split()
    dest = os.path.join(EVIDENCE, stamp)
    manifest = read_json(host, dest + "/manifest.json")
    assert {c["service"] for c in manifest["containers"]} == SERVICES
    assert all(c["status"] == "running" for c in manifest["containers"])
    for c in manifest["containers"]:
        assert host.file(os.path.join(dest, c["log"])).size > 0, c
    assert read_json(host, dest + "/version.json")["describe"] == "v1.2.3"
    assert manifest["problems"] == []


def test_the_incident_report_counts_the_shutdown_as_ongoing_downtime(host):
    incident = os.path.dirname(EVIDENCE)
    report = read_json(host, os.path.join(incident, "report.json"))
    assert (report["procedure"], report["status"]) == ("D", "ok")
    assert {"procedure_d", "report"} <= {step["name"] for step in report["steps"]}
    assert report["downtime"]["ongoing"] is True
    assert host.file(os.path.join(incident, "report.md")).contains("Emergency shutdown")
