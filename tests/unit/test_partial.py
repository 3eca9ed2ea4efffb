"""Procedure C's logic: which service is failing, the one to roll back, the pins file, the mixed history."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.runbook.rollback.plugins.module_utils.health import expected_version
from ansible_collections.runbook.rollback.plugins.module_utils.history import bad_versions, last_known_good
from ansible_collections.runbook.rollback.plugins.module_utils.partial import (
    PinError,
    apply,
    choose_service,
    failing_services,
    parse,
    render,
    service_definition,
    service_versions,
    versions_line,
)

SERVICES = ["postgres", "chat-service", "billing-service", "api-gateway"]
ENDPOINTS = [
    {"name": "gateway", "service": "api-gateway", "url": "http://127.0.0.1:1/health"},
    {"name": "chat", "service": "chat-service", "url": "http://127.0.0.1:1/api/chats/health"},
    {"name": "billing", "service": "billing-service", "url": "http://127.0.0.1:1/api/billing/health"},
]


def box(service, state="running", health="healthy", image=None, exit_code=None):
    return {"service": service, "name": "p-%s-1" % service, "image": image or "mysaas/%s:v1.2.5" % service,
            "state": state, "health": health, "exit_code": exit_code, "status": ""}  # fmt: skip


def healthy_stack(**replace):
    return [replace.get(s, box(s)) for s in SERVICES if replace.get(s, True) is not None]


def probes(**failing):
    return {"endpoints": [{"name": ep["name"], "ok": ep["name"] not in failing, "error": failing.get(ep["name"])}
                          for ep in ENDPOINTS]}  # fmt: skip


@pytest.mark.parametrize(
    ("containers", "health", "expected"),
    [
        (healthy_stack(), probes(), []),
        (healthy_stack(**{"billing-service": box("billing-service", state="restarting", health="")}), probes(),
         [{"service": "billing-service", "reason": "restarting"}]),
        (healthy_stack(**{"billing-service": box("billing-service", state="exited", health="", exit_code=3)}),
         probes(billing="HTTP 502"), [{"service": "billing-service", "reason": "exited (code 3)"}]),
        (healthy_stack(**{"chat-service": box("chat-service", health="unhealthy")}), probes(),
         [{"service": "chat-service", "reason": "unhealthy"}]),
        (healthy_stack(**{"billing-service": None}), probes(),
         [{"service": "billing-service", "reason": "no container"}]),
        # Running and healthy in Docker's eyes, but its endpoint fails: that is the service failing.
        (healthy_stack(), probes(chat="HTTP 500"),
         [{"service": "chat-service", "reason": "health endpoint chat: HTTP 500"}]),
        (healthy_stack(**{"billing-service": box("billing-service", state="restarting", health="")}),
         probes(chat="HTTP 500"),
         [{"service": "chat-service", "reason": "health endpoint chat: HTTP 500"},
          {"service": "billing-service", "reason": "restarting"}]),
    ],
)  # fmt: skip
def test_failing_services(containers, health, expected):
    assert failing_services(containers, SERVICES, ENDPOINTS, health) == expected


def test_an_endpoint_of_a_service_the_project_does_not_define_is_ignored():
    endpoints = [*ENDPOINTS, {"name": "legacy", "service": "legacy-service", "url": "http://127.0.0.1:1/legacy"}]
    health = {"endpoints": [*probes()["endpoints"], {"name": "legacy", "ok": False, "error": "HTTP 404"}]}
    assert failing_services(healthy_stack(), SERVICES, endpoints, health) == []


@pytest.mark.parametrize(
    ("requested", "failing", "expected", "error"),
    [
        ("", [{"service": "billing-service", "reason": "restarting"}], "billing-service", None),
        ("chat-service", [], "chat-service", None),
        ("chat-service", [{"service": "billing-service", "reason": "restarting"}], "chat-service", None),
        ("payments", [], None, "service payments is not defined in the compose project"),
        ("", [], None, "no failing service found"),
        ("", [{"service": "billing-service", "reason": "restarting"},
              {"service": "chat-service", "reason": "unhealthy"}],
         None, "2 services are failing (billing-service: restarting; chat-service: unhealthy)"),
    ],
)  # fmt: skip
def test_choose_service(requested, failing, expected, error):
    if error:
        with pytest.raises(PinError, match=error.replace("(", r"\(").replace(")", r"\)")):
            choose_service(requested, SERVICES, failing)
    else:
        assert choose_service(requested, SERVICES, failing) == expected


OLD_COMPOSE = """
x-service: &service
  pull_policy: never
  restart: unless-stopped
services:
  billing-service:
    <<: *service
    image: mysaas/billing-service:v1.2.3
    build: {context: ., dockerfile: services/billing/Dockerfile}
    environment: {PAYMENT_PROVIDER: sandbox, APP_VERSION: v1.2.3, DB_PASSWORD: "${POSTGRES_PASSWORD:-x}"}
  api-gateway:
    image: mysaas/api-gateway:v1.2.3
"""


def test_the_pinned_definition_is_the_old_release_s_without_its_build():
    definition = service_definition(OLD_COMPOSE, "billing-service", "v1.2.3")
    assert definition == {
        "pull_policy": "never",
        "restart": "unless-stopped",
        "image": "mysaas/billing-service:v1.2.3",
        "environment": {
            "PAYMENT_PROVIDER": "sandbox",
            "APP_VERSION": "v1.2.3",
            "DB_PASSWORD": "${POSTGRES_PASSWORD:-x}",
        },
    }


@pytest.mark.parametrize(
    ("text", "service", "error"),
    [
        (OLD_COMPOSE, "auth-service", "v1.2.3 does not define service auth-service"),
        ("services: [", "billing-service", "not valid YAML"),
        ("services:\n  billing-service: {build: .}\n", "billing-service", "no image name to pin"),
    ],
)
def test_a_definition_that_cannot_be_pinned_is_refused(text, service, error):
    with pytest.raises(PinError, match=error):
        service_definition(text, service, "v1.2.3")


def test_a_service_built_without_an_image_name_is_pinned_to_the_releases_own_build():
    text = "services:\n  worker: {build: {context: .}, environment: {MODE: x}}\n  db: {image: postgres:16}\n"
    assert service_definition(text, "worker", "v1.2.3", "shop-worker:v1.2.3") == {
        "image": "shop-worker:v1.2.3",
        "environment": {"MODE": "x"},
    }
    # A service that names its image runs that one, whatever is given.
    assert service_definition(text, "db", "v1.2.3", "shop-db:v1.2.3") == {"image": "postgres:16"}


def test_the_pins_file_round_trips_and_tags_each_service_override():
    pins = apply({}, "billing-service", "v1.2.3", service_definition(OLD_COMPOSE, "billing-service", "v1.2.3"))
    pins = apply(pins, "api-gateway", "v1.2.3", service_definition(OLD_COMPOSE, "api-gateway", "v1.2.3"))
    text = render(pins, "/state/pins.compose.yml")
    assert "  billing-service: !override\n" in text
    assert "-f /state/pins.compose.yml" in text
    assert parse(text) == pins
    assert yaml.safe_load(text.replace("!override", ""))["x-runbook-pins"] == {
        "api-gateway": "v1.2.3", "billing-service": "v1.2.3"
    }  # fmt: skip
    assert apply(pins, "api-gateway", remove=True) == {"billing-service": pins["billing-service"]}
    assert apply(pins, None, remove=True) == {}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("services: {}\n", "no x-runbook-pins mapping"),
        ("x-runbook-pins: {api: v1}\nservices: {}\n", "names api in x-runbook-pins but does not define it"),
        ("x-runbook-pins: [", "not valid YAML"),
    ],
)
def test_a_pins_file_not_written_here_is_refused(text, error):
    with pytest.raises(PinError, match=error):
        parse(text)


def test_a_pin_needs_a_version():
    with pytest.raises(PinError, match="needs the version"):
        apply({}, "billing-service", "", {})


def test_service_versions_and_the_line_that_reports_them():
    containers = healthy_stack(**{"billing-service": box("billing-service", image="mysaas/billing-service:v1.2.3")})
    containers.append(box("worker", state="exited", health="", image="mysaas/worker:v1.2.5"))
    versions = service_versions(containers, {"billing-service": "v1.2.3"})
    assert versions["billing-service"] == {"version": "v1.2.3", "state": "healthy", "pinned": True}
    assert versions["worker"] == {"version": "v1.2.5", "state": "exited", "pinned": False}
    assert versions_line(versions) == (
        "v1.2.5: api-gateway, chat-service, postgres, worker [exited]; v1.2.3: billing-service (pinned)"
    )
    assert versions_line(service_versions([box("api", image="mysaas/api")])) == "latest: api"


def test_versions_line_orders_releases_numerically():
    versions = {"a": {"version": "v1.2.9", "state": "healthy"}, "b": {"version": "v1.2.10", "state": "healthy"}}
    assert versions_line(versions) == "v1.2.10: b; v1.2.9: a"


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ({"name": "billing", "service": "billing-service"}, "v1.2.3"),
        ({"name": "chat", "service": "chat-service"}, "v1.2.5"),
        ({"name": "edge"}, "v1.2.5"),
    ],
)
def test_a_pinned_service_s_endpoint_must_report_its_pinned_release(endpoint, expected):
    assert expected_version(endpoint, "v1.2.5", {"billing-service": "v1.2.3"}) == expected


def entry(version, result="verified", action="deploy", **kw):
    return {"version": version, "result": result, "action": action, **kw}


def test_a_stack_with_a_pinned_service_is_not_a_known_good_release():
    history = [
        entry("v1.2.3"),
        entry("v1.2.5", "failed"),
        entry("v1.2.5", action="rollback", from_version="v1.2.5", pins={"billing-service": "v1.2.3"}),
    ]
    assert "v1.2.5" in bad_versions(history)
    assert last_known_good(history)["last_good"] == "v1.2.3"
