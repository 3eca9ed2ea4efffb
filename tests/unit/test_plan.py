"""Restart plans: which services a move to a release keeps, replaces, starts or removes."""

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.plan import restart_plan, stage_plan

TARGET = {
    "postgres": {"image": "mysaas/postgres:15"},
    "chat-service": {"image": "mysaas/chat-service:v1.2.3"},
    "api-gateway": {"image": "mysaas/api-gateway:v1.2.3"},
}


def running(service, image, state="running"):
    return {"service": service, "image": image, "state": state}


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        pytest.param([], {"keep": [], "replace": [], "start": sorted(TARGET), "remove": []}, id="nothing-runs"),
        pytest.param(
            [
                running("postgres", "mysaas/postgres:15"),
                running("chat-service", "mysaas/chat-service:v1.2.4"),
                running("api-gateway", "mysaas/api-gateway:v1.2.4"),
            ],
            {"keep": ["postgres"], "replace": ["api-gateway", "chat-service"], "start": [], "remove": []},
            id="code-rollback-keeps-data",
        ),
        pytest.param(
            [
                running("postgres", "mysaas/postgres:15"),
                running("chat-service", "mysaas/chat-service:v1.2.3", state="exited"),
                running("api-gateway", "mysaas/api-gateway:v1.2.3"),
                running("legacy-worker", "mysaas/legacy-worker:v1.2.4"),
            ],
            {
                "keep": ["api-gateway", "postgres"],
                "replace": [],
                "start": ["chat-service"],
                "remove": ["legacy-worker"],
            },
            id="exited-is-started-and-orphan-removed",
        ),
        pytest.param(
            [running("chat-service", "mysaas/chat-service:v1.2.5", state="restarting")],
            {"keep": [], "replace": ["chat-service"], "start": ["api-gateway", "postgres"], "remove": []},
            id="crash-looping-counts-as-running",
        ),
    ],
)
def test_restart_plan(current, expected):
    assert restart_plan(current, TARGET) == expected


STAGES = [
    {"name": "data", "data": True, "services": ["postgres", "redis"]},
    {"name": "core", "services": ["auth-service", "chat-service"], "timeout": 60},
    {"name": "edge", "services": ["api-gateway"]},
]


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        pytest.param(
            ["postgres", "redis", "auth-service", "chat-service", "api-gateway"],
            [
                {"name": "data", "data": True, "services": ["postgres", "redis"]},
                {"name": "core", "services": ["auth-service", "chat-service"], "timeout": 60},
                {"name": "edge", "services": ["api-gateway"]},
            ],
            id="all-stages",
        ),
        pytest.param(
            ["api-gateway", "postgres"],
            [{"name": "data", "data": True, "services": ["postgres"]}, {"name": "edge", "services": ["api-gateway"]}],
            id="empty-stage-dropped",
        ),
        pytest.param(
            ["postgres", "search-indexer", "api-gateway"],
            [
                {"name": "data", "data": True, "services": ["postgres"]},
                {"name": "edge", "services": ["api-gateway"]},
                {"name": "other", "services": ["search-indexer"]},
            ],
            id="unlisted-service-goes-last",
        ),
        pytest.param([], [], id="no-services"),
    ],
)
def test_stage_plan(services, expected):
    assert stage_plan(STAGES, services) == expected


def test_stage_plan_lists_a_service_once_even_if_two_stages_name_it():
    stages = [{"name": "a", "services": ["x"]}, {"name": "b", "services": ["x", "y"]}]
    assert stage_plan(stages, ["x", "y"]) == [{"name": "a", "services": ["x"]}, {"name": "b", "services": ["y"]}]
