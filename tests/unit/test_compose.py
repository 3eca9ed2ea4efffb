from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.runbook.rollback.plugins.filter.compose import FilterModule
from ansible_collections.runbook.rollback.plugins.module_utils import compose
from ansible_collections.runbook.rollback.plugins.module_utils.compose import (
    built_images,
    compose_error,
    compose_services,
    container_problem,
    image_tag,
    name_release_builds,
    parse_ps,
    problems,
    stack_state,
    stack_state_line,
    up_actions,
)

API = {"Service": "api", "Name": "app-api-1", "State": "running", "Health": "healthy", "ExitCode": 0,
       "Status": "Up 2 minutes (healthy)", "Image": "app/api:v1.2.3"}
WORKER = {"Service": "worker", "Name": "app-worker-1", "State": "exited", "Health": "", "ExitCode": 1,
          "Status": "Exited (1) 3 seconds ago"}

PARSED_API = {"service": "api", "name": "app-api-1", "image": "app/api:v1.2.3", "state": "running",
              "health": "healthy", "exit_code": 0, "status": "Up 2 minutes (healthy)"}
PARSED_WORKER = {"service": "worker", "name": "app-worker-1", "image": "", "state": "exited", "health": "",
                 "exit_code": 1, "status": "Exited (1) 3 seconds ago"}


@pytest.mark.parametrize(
    "stdout, expected",
    [
        ("", []),
        ("  \n", []),
        (None, []),
        ("[]", []),
        # Compose >= 2.21: one object per line.
        (json.dumps(API) + "\n" + json.dumps(WORKER) + "\n", [PARSED_API, PARSED_WORKER]),
        # Older Compose: one array.
        (json.dumps([API, WORKER]), [PARSED_API, PARSED_WORKER]),
        ([API], [PARSED_API]),
        # Health missing entirely: taken from Status.
        (json.dumps({"Service": "db", "Name": "d", "State": "running", "Status": "Up 1s (health: starting)"}),
         [{"service": "db", "name": "d", "image": "", "state": "running", "health": "starting", "exit_code": None,
           "status": "Up 1s (health: starting)"}]),
    ],
    ids=["empty", "blank", "none", "empty array", "ndjson", "array", "decoded list", "health from status"],
)
def test_parse_ps(stdout, expected):
    assert parse_ps(stdout) == expected


@pytest.mark.parametrize("stdout", ["[{", "{\"Service\": \"a\"}\nnot json", "42"])
def test_parse_ps_rejects_garbage(stdout):
    with pytest.raises(ValueError):
        parse_ps(stdout)


def c(state="running", health="", exit_code=0, service="api"):
    return {"service": service, "name": service + "-1", "state": state, "health": health, "exit_code": exit_code,
            "status": ""}


@pytest.mark.parametrize(
    "container, expected",
    [
        (c(), None),
        (c(health="healthy"), None),
        (c(health="unhealthy"), "api: unhealthy"),
        (c(health="starting"), "api: health starting"),
        (c(health="weird"), "api: health weird"),
        (c("exited", exit_code=137), "api: exited (code 137)"),
        (c("exited", exit_code=None), "api: exited (code unknown)"),
        (c("restarting", exit_code=1), "api: restarting"),
        (c("created"), "api: created"),
        (c("paused"), "api: paused"),
        (c("dead"), "api: dead"),
        (c(""), "api: state unknown"),
    ],
)
def test_container_problem(container, expected):
    assert container_problem("api", container) == expected


@pytest.mark.parametrize(
    "ps, expected_services, expected",
    [
        ([c(), c(service="db", health="healthy")], ["api", "db"], []),
        ([c()], ["api", "db"], ["db: no container"]),
        ([], ["api"], ["api: no container"]),
        ([c(health="starting"), c("exited", exit_code=1, service="worker")], ["worker", "api"],
         ["worker: exited (code 1)", "api: health starting"]),
        # Replicas with the same problem give one line.
        ([c(health="unhealthy"), c(health="unhealthy")], ["api"], ["api: unhealthy"]),
        # Services not expected are not judged (one-off containers, profiles).
        ([c(), c("exited", service="migrate")], ["api"], []),
        # compose_services from git_release (a dict) works as the expected list.
        ([c()], {"api": {"image": None, "build": True}, "db": {"image": "postgres", "build": False}},
         ["db: no container"]),
        ([c()], "api", []),
        (json.dumps(API) + "\n" + json.dumps(WORKER), ["api", "worker"], ["worker: exited (code 1)"]),
        ([API, WORKER], ["api", "worker"], ["worker: exited (code 1)"]),
    ],
)
def test_problems(ps, expected_services, expected):
    assert problems(ps, expected_services) == expected


def test_filter_plugin():
    filters = FilterModule().filters()
    ps = filters["compose_ps"](json.dumps([API, WORKER]))
    assert filters["compose_problems"](ps, ["api", "worker", "db"]) == ["worker: exited (code 1)", "db: no container"]
    with pytest.raises(AnsibleFilterError, match="compose_ps"):
        filters["compose_ps"]("{broken")


COMPOSE = """
x-common: &common
  restart: unless-stopped
services:
  api:
    <<: *common
    build: ./api
    image: registry.example.test/app/api:${VERSION:-latest}
  worker:
    build: {context: ./api}
    image: registry.example.test/app/api:${VERSION:-latest}
  web:
    build: ./web
  postgres:
    image: postgres:16
  empty:
"""


def test_compose_services():
    services = compose_services(COMPOSE)
    assert services == {
        "api": {"image": "registry.example.test/app/api:${VERSION:-latest}", "build": True},
        "worker": {"image": "registry.example.test/app/api:${VERSION:-latest}", "build": True},
        "web": {"image": None, "build": True},
        "postgres": {"image": "postgres:16", "build": False},
        "empty": {"image": None, "build": False},
    }
    assert built_images(services) == ["registry.example.test/app/api:${VERSION:-latest}"]


def test_a_service_built_without_an_image_name_gets_its_releases_own_build():
    services = name_release_builds(compose_services(COMPOSE), "shop", "v1.2.3")
    # Compose runs it as shop-web whichever release built it: the release's build is kept under its version.
    assert services["web"] == {"image": None, "build": True, "runs_as": "shop-web", "release_image": "shop-web:v1.2.3"}
    assert "release_image" not in services["api"] and "release_image" not in services["empty"]
    assert built_images(services) == ["registry.example.test/app/api:${VERSION:-latest}", "shop-web:v1.2.3"]
    assert "release_image" not in name_release_builds(compose_services(COMPOSE), "", "v1.2.3")["web"]


@pytest.mark.parametrize(
    "text, error",
    [
        ("services: [", "not valid YAML"),
        ("- a", "top level"),
        ("version: '3'", "no services"),
        ("services: {}", "no services"),
    ],
)
def test_compose_services_errors(text, error):
    with pytest.raises(ValueError, match=error):
        compose_services(text)


def ps(service, image, state="running", health="healthy", exit_code=0):
    return {"Service": service, "Name": "app-%s-1" % service, "Image": image, "State": state, "Health": health,
            "ExitCode": exit_code, "Status": ""}


@pytest.mark.parametrize(
    "image, tag",
    [
        ("mysaas/chat-service:v1.2.4", "v1.2.4"),
        ("registry.local:5000/mysaas/chat-service:v1.2.4", "v1.2.4"),
        ("registry.local:5000/mysaas/chat-service", "latest"),
        ("postgres", "latest"),
        ("mysaas/api@sha256:abc123", "sha256:abc123"),
        ("", ""),
        (None, ""),
    ],
    ids=["tag", "registry with port", "registry without tag", "bare name", "digest", "empty", "none"],
)
def test_image_tag(image, tag):
    assert image_tag(image) == tag


STACK_CASES = {
    "healthy, plain running, restarting, exited": (
        [ps("chat-service", "mysaas/chat-service:v1.2.4"),
         ps("redis", "mysaas/redis:7", health=""),
         ps("billing-service", "mysaas/billing-service:v1.2.5", state="restarting", health=""),
         ps("email-worker", "mysaas/email-worker:v1.2.4", state="exited", health="", exit_code=1)],
        None,
        {"billing-service": {"version": "v1.2.5", "state": "restarting"},
         "chat-service": {"version": "v1.2.4", "state": "healthy"},
         "email-worker": {"version": "v1.2.4", "state": "exited", "exit_code": 1},
         "redis": {"version": "7", "state": "running"}},
        "billing-service v1.2.5 restarting, chat-service v1.2.4 healthy, email-worker v1.2.4 exited (code 1), "
        "redis 7 running",
    ),
    "unhealthy and starting": (
        [ps("auth-service", "a:v1.2.3", health="unhealthy"), ps("chat-service", "c:v1.2.3", health="starting")],
        None,
        {"auth-service": {"version": "v1.2.3", "state": "unhealthy"},
         "chat-service": {"version": "v1.2.3", "state": "starting"}},
        "auth-service v1.2.3 unhealthy, chat-service v1.2.3 starting",
    ),
    "expected service without a container": (
        [ps("chat-service", "c:v1.2.3")],
        {"chat-service": {}, "frontend": {}},
        {"chat-service": {"version": "v1.2.3", "state": "healthy"}, "frontend": {"version": "", "state": "missing"}},
        "chat-service v1.2.3 healthy, frontend missing",
    ),
    "replicas that disagree": (
        [ps("chat-service", "c:v1.2.3"), ps("chat-service", "c:v1.2.4", state="exited", health="", exit_code=2)],
        ["chat-service"],
        {"chat-service": {"version": "v1.2.3, v1.2.4", "state": "healthy, exited", "exit_code": 2}},
        "chat-service v1.2.3, v1.2.4 healthy, exited (code 2)",
    ),
    "no containers": ([], None, {}, "no containers"),
}


@pytest.mark.parametrize("containers, expected_services, services, line", STACK_CASES.values(), ids=STACK_CASES)
def test_stack_state(containers, expected_services, services, line):
    as_text = "\n".join(json.dumps(c) for c in containers)
    assert stack_state(as_text, expected_services) == services
    assert stack_state(parse_ps(containers), expected_services) == services
    assert stack_state_line(services) == line


def test_stack_state_filters():
    filters = FilterModule().filters()
    services = filters["stack_state"](json.dumps(ps("chat-service", "c:v1.2.3")))
    assert filters["stack_state_line"](services) == "chat-service v1.2.3 healthy"
    with pytest.raises(AnsibleFilterError, match="stack_state"):
        filters["stack_state"]("not json")
    with pytest.raises(AnsibleFilterError, match="stack_state_line"):
        filters["stack_state_line"]([])


# `docker compose up --wait` for two services, one left as it ran, one recreated, then a failure.
UP_STDERR = """\
 Container app-a-1  Running
 Container app-b-1  Recreate
 Container app-b-1  Recreated
 Container app-b-1  Starting
 Container app-b-1  Started
 Network app_default  Created
 Container app-a-1  Waiting
 Container app-b-1  Waiting
 Container app-a-1  Healthy
 Container app-b-1  Error
dependency failed to start: container app-b-1 exited (1)
"""


def test_up_actions_lists_each_changed_resource_once_with_its_last_change():
    assert up_actions(UP_STDERR) == [
        {"what": "container", "id": "app-b-1", "status": "Started"},
        {"what": "network", "id": "app_default", "status": "Created"},
    ]


@pytest.mark.parametrize("stderr", ["", None, " Container app-a-1  Running\n Container app-a-1  Healthy\n"])
def test_up_actions_of_a_stage_that_changed_nothing_is_empty(stderr):
    assert up_actions(stderr) == []


def test_compose_error_is_what_compose_said_besides_its_progress():
    assert compose_error(UP_STDERR) == "dependency failed to start: container app-b-1 exited (1)"
    assert compose_error(" Container app-a-1  Running\n") == ""
    assert compose_error("no such service:\n   nope\n") == "no such service: nope"


# A stand-in for `docker compose -p app` (the compose_argv compose_info is given): what a project with an
# api, a worker that exited and no db container prints, or compose's own error when it cannot read the files.
FAKE_COMPOSE = """#!/bin/sh
case "$1" in
  config) printf 'api\\nworker\\ndb\\n' ;;
  ps) [ -n "$BROKEN" ] && { echo 'open docker-compose.yml: no such file or directory' >&2; exit 14; }
      printf '%s\\n%s\\n' '{API}' '{WORKER}' ;;
esac
"""


@pytest.mark.functional
def test_compose_info_reads_what_is_defined_what_runs_and_what_is_wrong(tmp_path, ansible_module):
    fake = tmp_path / "compose"
    fake.write_text(FAKE_COMPOSE.replace("{API}", json.dumps(API)).replace("{WORKER}", json.dumps(WORKER)))
    fake.chmod(0o755)
    res = ansible_module("compose_info", {"compose_argv": [str(fake)]}, check=True)
    assert res["changed"] is False and res["services"] == ["api", "worker", "db"]
    assert [c["service"] for c in res["containers"]] == ["api", "worker"]
    assert res["problems"] == ["worker: exited (code 1)", "db: no container"]
    assert res["state"]["db"] == {"version": "", "state": "missing"}
    assert "worker" in res["state_line"] and "db missing" in res["state_line"]
    # Only the services named are expected.
    res = ansible_module("compose_info", {"compose_argv": [str(fake)], "services": ["api"]})
    assert res["services"] == ["api"] and res["problems"] == []
    res = ansible_module("compose_info", {"compose_argv": [str(fake)], "compose_env": {"BROKEN": "1"}})
    assert res["failed"] is True
    assert res["msg"] == "docker compose ps: open docker-compose.yml: no such file or directory"


def test_compose_run_gives_the_project_its_environment_and_names_what_could_not_run():
    from ansible_collections.runbook.rollback.plugins.module_utils.compose import ComposeRunError, compose_run

    fake = ["sh", "-c", 'printf "%s|%s" "$RB_PROJECT_VAR" "$*"', "compose"]
    proc = compose_run(fake, {"RB_PROJECT_VAR": 7}, ["ps", "--all"])
    assert (proc.returncode, proc.stdout) == (0, "7|ps --all")
    with pytest.raises(ComposeRunError, match=r"^docker compose ps: "):
        compose_run(["/nonexistent/docker", "compose"], {}, ["ps"])
    with pytest.raises(ComposeRunError, match=r"^docker compose up: .*timed out"):
        compose_run(["sh", "-c", "exec sleep 5", "compose"], {}, ["up"], timeout=0.2)


def test_release_mismatches_names_each_container_that_is_not_the_release():
    release_mismatches = FilterModule().filters()["release_mismatches"]
    config = {"services": {"db": {"image": "postgres:16"}, "api": {"image": "shop/api:v1.2.3", "build": {}},
                           "web": {"build": {"context": "web"}}}}  # fmt: skip
    ps = [{"Service": "db", "Name": "p-db-1", "Image": "postgres:16", "State": "running"},
          {"Service": "api", "Name": "p-api-1", "Image": "shop/api:v1.2.4", "State": "running"},
          {"Service": "api", "Name": "p-api-2", "Image": "shop/api:v1.2.4", "State": "running"},
          {"Service": "web", "Name": "p-web-1", "Image": "p-web", "State": "running"},
          {"Service": "old", "Name": "p-old-1", "Image": "shop/old:v1.0.0", "State": "exited"}]  # fmt: skip
    assert release_mismatches(ps, config, "v1.2.3") == [
        "api runs shop/api:v1.2.4, the compose files at v1.2.3 name shop/api:v1.2.3",
        "old runs, but the compose files at v1.2.3 do not define it",
    ]
    # What runs is the release: the built service without an image name is not judged by its name.
    assert release_mismatches(ps[:1] + ps[3:4], config, "v1.2.3") == []
    with pytest.raises(AnsibleFilterError, match=r"^release_mismatches: expects the decoded output of docker compose"):
        release_mismatches(ps, "services: {}", "v1.2.3")


# --- Since when a container is down (docker inspect) ---------------------------------------------------------
def inspected(status, exit_code=0, finished="2026-12-03T21:00:00.123456789Z", health=None):
    state = {"Status": status, "ExitCode": exit_code, "FinishedAt": finished}
    if health is not None:
        state["Health"] = health
    return {"Id": "abc", "State": state}


def check(code, start):
    return {"Start": start, "End": start, "ExitCode": code}


EPOCH_21 = compose.engine_time("2026-12-03T21:00:00Z")


@pytest.mark.parametrize(
    "entry, since",
    [
        (inspected("exited", 1), EPOCH_21 + 0.123456789),
        (inspected("exited", 0), EPOCH_21 + 0.123456789),  # stopped: a service meant to run is down
        (inspected("dead", 137), EPOCH_21 + 0.123456789),
        (inspected("restarting", 1), EPOCH_21 + 0.123456789),
        (inspected("exited", 1, finished="0001-01-01T00:00:00Z"), None),
        (inspected("running", health={"Status": "healthy", "Log": []}), None),
        (inspected("running"), None),
        # Unhealthy: since the first failed check after the last that passed.
        (inspected("running", health={"Status": "unhealthy", "Log": [
            check(0, "2026-12-03T20:58:00Z"), check(1, "2026-12-03T20:59:00Z"), check(1, "2026-12-03T21:00:00Z")]}),
         EPOCH_21 - 60),
        # None passed in the log the engine keeps: since the oldest check it keeps (a lower bound).
        (inspected("running", health={"Status": "unhealthy", "Log": [
            check(1, "2026-12-03T20:58:00+00:00"), check(1, "2026-12-03T20:59:00Z")]}), EPOCH_21 - 120),
    ],
)  # fmt: skip
def test_down_since(entry, since):
    got = compose.down_since(entry)
    assert got == pytest.approx(since) if since is not None else got is None


def test_a_service_is_down_as_long_as_its_container_has_been():
    sampled = [
        {"name": "api", "critical": True, "healthy": False, "down_seconds": 12, "failed_checks": 3},
        {"name": "worker", "critical": False, "healthy": True, "down_seconds": 0, "failed_checks": 0},
        {"name": "replicated", "critical": True, "healthy": True, "down_seconds": 0, "failed_checks": 0},
        {"name": "web", "critical": True, "healthy": False, "down_seconds": 30, "failed_checks": 3},
    ]
    containers = [
        {"service": "api", "down_seconds": 420.5},
        {"service": "worker", "down_seconds": None},
        {"service": "web", "down_seconds": 10.0},  # the samples saw it down longer
        {"service": "other", "down_seconds": 900.0},  # not one of the decision's services
        {"service": "replicated", "down_seconds": 600.0},  # one replica down, the service answers
        {"service": "replicated", "down_seconds": None},
    ]
    got = compose.with_down_times(sampled, containers)
    assert [(s["name"], s["healthy"], s["down_seconds"]) for s in got] == [
        ("api", False, 420.5), ("worker", True, 0), ("replicated", True, 0), ("web", False, 30)]  # fmt: skip
    assert sampled[0]["down_seconds"] == 12, "the input is left as it was"
    # Figures that came through a template as text are read as numbers; what is not a number is left out.
    texts = [{"service": "api", "down_seconds": "420.5"}, {"service": "web", "down_seconds": "soon"}]
    got = compose.with_down_times([dict(sampled[0], down_seconds="12"), sampled[3]], texts)
    assert [(s["name"], s["down_seconds"]) for s in got] == [("api", 420.5), ("web", 30)]


DRY_RUN = """\
 DRY-RUN MODE -  Container shop-api-1  Recreate
 DRY-RUN MODE -  Container shop-api-1  Recreated
 DRY-RUN MODE -  Container 9b401427c84e_shop-api-1  Starting
 DRY-RUN MODE -  Container shop-web-1  Running
 DRY-RUN MODE -  Container shop-worker-1  Recreate
 DRY-RUN MODE -  Container shop-api-1  Healthy
"""


def test_a_dry_run_names_the_containers_it_would_recreate():
    assert compose.dry_run_recreated(DRY_RUN) == ["shop-api-1", "shop-worker-1"]
    assert compose.dry_run_recreated("") == []


def test_a_dry_run_that_finds_everything_as_it_should_be_changes_nothing():
    changes = [(a["id"], a["status"]) for a in compose.dry_run_changes(DRY_RUN)]
    assert changes == [("shop-api-1", "Recreated"), ("9b401427c84e_shop-api-1", "Starting"),
                       ("shop-worker-1", "Recreate")]  # fmt: skip
    running = " DRY-RUN MODE -  Container shop-web-1  Running\n DRY-RUN MODE -  Container shop-db-1  Running\n"
    assert compose.dry_run_changes(running) == []
    assert compose.dry_run_changes("") == []
    # A stopped container is started, an orphan removed: changes.
    assert compose.dry_run_changes(" DRY-RUN MODE -  Container shop-web-1  Starting\n") != []
    assert compose.dry_run_changes(" DRY-RUN MODE -  Container shop-old-1  Removed\n") != []
    # What the dry run said of each container, last word kept: the stage is left as it is only on "Running".
    assert compose.dry_run_states(DRY_RUN)["shop-web-1"] == "Running"
    assert compose.dry_run_states(DRY_RUN)["shop-api-1"] == "Healthy"
    assert compose.dry_run_states('{"id": "shop-web-1", "status": "Running"}\n') == {}


def _ps(service, name, state="running", health="healthy"):
    return {"service": service, "name": name, "state": state, "health": health}


def test_side_by_side_only_where_a_second_container_is_harmless():
    config = {"services": {
        "api": {"image": "shop/api:v2"},
        "web": {"ports": [{"target": 8080, "published": "18080", "host_ip": "127.0.0.1"}]},
        "named": {"container_name": "shop-named"},
        "db": {"volumes": [{"type": "volume", "source": "pgdata", "target": "/var/lib/postgresql/data"}]},
        "conf": {"volumes": [{"type": "bind", "source": "/etc/shop", "target": "/conf", "read_only": True}]},
        "worker": {}, "sick": {}, "twice": {}, "same": {}, "hostnet": {"network_mode": "host"},
        "internal": {"ports": [{"target": 9000}]},
        "pinned": {"networks": {"default": {"ipv4_address": "172.30.0.9"}}}, "unchecked": {},
    }}  # fmt: skip
    running = [_ps("api", "shop-api-1"), _ps("web", "shop-web-1"), _ps("named", "shop-named"), _ps("db", "shop-db-1"),
               _ps("conf", "shop-conf-1"), _ps("worker", "shop-worker-1"),
               _ps("sick", "shop-sick-1", health="unhealthy"),
               _ps("twice", "shop-twice-1"), _ps("twice", "shop-twice-2"), _ps("same", "shop-same-1"),
               _ps("hostnet", "shop-hostnet-1"), _ps("internal", "shop-internal-1"), _ps("pinned", "shop-pinned-1"),
               _ps("unchecked", "shop-unchecked-1", health="")]  # fmt: skip
    recreate = [c["name"] for c in running if c["service"] != "same"]
    services = list(config["services"])
    plan = compose.side_by_side_plan(config, running, recreate, services, singletons=["worker"])
    assert plan["side_by_side"] == {"api": "shop-api-1", "conf": "shop-conf-1", "internal": "shop-internal-1"}
    assert plan["plain"] == {
        "web": "publishes its port 8080 on the host",
        "named": "has a fixed container name (shop-named)",
        "db": "writes to volume pgdata (state of its own)",
        "worker": "never runs twice at once (rollback_singletons)",
        "sick": "its container is not serving (unhealthy)",
        "twice": "runs 2 containers",
        "hostnet": "shares a network namespace (network_mode host)",
        "pinned": "has a fixed address on network default",
        "unchecked": "has no healthcheck (nothing says when its new container serves)",
    }
    # A service the restart leaves as it is ("same") is in neither; one with no container yet is only started.
    assert compose.side_by_side_plan(config, [], [], services) == {"side_by_side": {}, "plain": {}}


def test_prepared_where_a_second_container_can_be_created_before_the_stop():
    config = {"services": {
        "api": {}, "web": {"ports": [{"target": 8080, "published": "18080"}]},
        "db": {"volumes": [{"type": "volume", "source": "pgdata", "target": "/data"}]},
        "named": {"container_name": "shop-named"}, "side": {"network_mode": "service:api"},
        "pinned": {"networks": {"default": {"ipv4_address": "172.30.0.9"}}},
        "twice": {}, "same": {}, "new": {}, "proxy": {},
    }}  # fmt: skip
    running = [_ps("api", "shop-api-1"), _ps("web", "shop-web-1"), _ps("db", "shop-db-1"), _ps("named", "shop-named"),
               _ps("side", "shop-side-1"), _ps("pinned", "shop-pinned-1"), _ps("twice", "shop-twice-1"),
               _ps("twice", "shop-twice-2"), _ps("same", "shop-same-1", state="exited"), _ps("proxy", "shop-proxy-1")]
    recreate = [c["name"] for c in running if c["service"] != "same"]
    plan = compose.prepare_plan(config, running, recreate, [*config["services"], "gone"], running=["db", "proxy"])
    # The old one is stopped before the new one starts: a published port or a volume does not stand in the way.
    assert plan["prepare"] == {"api": "shop-api-1", "web": "shop-web-1", "new": None}
    assert plan["as_is"] == ["same"]
    assert plan["later"] == {
        "db": "keeps running through the stop", "proxy": "keeps running through the stop",
        "named": "has a fixed container name (shop-named)",
        "side": "shares the namespace of another container (network_mode service:api)",
        "pinned": "has a fixed address on network default", "twice": "runs 2 containers",
        "gone": "the release does not define it",
    }  # fmt: skip


def test_the_prepared_container_is_the_one_created_beside_the_old_one():
    ps = [_ps("api", "shop-api-1"), _ps("api", "shop-api-2", state="created", health=""),
          _ps("web", "shop-web-3", state="created", health=""), _ps("odd", "shop-odd-1", state="created", health=""),
          _ps("odd", "shop-odd-2", state="created", health="")]
    assert compose.created_after(ps, {"api": "shop-api-1", "web": None, "odd": None, "none": None}) == {
        "api": "shop-api-2", "web": "shop-web-3"}


@pytest.mark.parametrize("test, argv", [
    (["CMD", "pg_isready", "-q"], ["pg_isready", "-q"]),
    (["CMD-SHELL", "curl -f http://localhost/ || exit 1"], ["/bin/sh", "-c", "curl -f http://localhost/ || exit 1"]),
    (["NONE"], None), ([], None), (None, None), (["CMD"], None),
])
def test_a_healthcheck_is_run_as_the_engine_runs_it(test, argv):
    assert compose.healthcheck_argv(test) == argv


def _git(repo, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")  # fmt: skip
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)
    if args[0] != "commit":
        return ""
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()  # fmt: skip


def test_the_release_compose_files_are_read_at_its_commit_and_the_tree_is_left_alone(tmp_path):
    repo, work, outside = tmp_path / "app", tmp_path / "work", tmp_path / "override.yml"
    (repo / "deploy").mkdir(parents=True)
    work.mkdir()
    outside.write_text("services: {}\n")
    _git(repo, "init", "-q")
    (repo / "compose.yaml").write_text("services: {api: {image: api:v1}}\n")
    (repo / "deploy" / "extra.yml").write_text("services: {api: {environment: {A: '1'}}}\n")
    _git(repo, "add", "-A")
    first = _git(repo, "commit", "-qm", "v1")
    (repo / "compose.yaml").write_text("services: {api: {image: api:v2}}\n")
    _git(repo, "commit", "-qam", "v2")
    argv = ["docker", "compose", "--project-name", "shop", "--project-directory", str(repo),
            f"--file={repo}/compose.yaml", "-f", "deploy/extra.yml", f"--file={outside}"]  # fmt: skip
    got = compose.release_argv(argv, str(repo), first, str(work))
    assert got[:6] == argv[:6]
    files = [a.split("=", 1)[1] for a in got if a.startswith("--file=")]
    assert Path(files[0]).read_text() == "services: {api: {image: api:v1}}\n"
    assert Path(files[1]).read_text() == "services: {api: {environment: {A: '1'}}}\n"
    assert files[1].endswith("deploy/extra.yml") and files[2] == str(outside)
    assert all(f.startswith(str(work)) for f in files[:2])
    # The work tree is where it was.
    assert (repo / "compose.yaml").read_text() == "services: {api: {image: api:v2}}\n"
    (repo / "late.yml").write_text("services: {}\n")
    with pytest.raises(compose.ComposeRunError, match=r"late\.yml is not in commit"):
        compose.release_argv(["docker", "compose", "--file=late.yml"], str(repo), first, str(work))
