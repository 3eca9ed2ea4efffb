"""The runbook's "check logs for repeated errors": which lines are errors, which of them say the same thing."""

from __future__ import annotations

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.logscan import repeated_line, scan, service_of, shape

# `docker compose logs --no-color` as the staging stack writes it: several containers, timestamps, ids.
LOGS = "\n".join(
    [f'shop-chat-service-1  | 2026-12-03T21:{i % 60:02d}:07 error chat: request failed method="POST" '
     f'path="/chats/{1000 + i}" error="KeyError" detail="\'title\'"' for i in range(25)]
    + [f'shop-gateway-1  | 2026-12-03T21:00:{i:02d} error gateway: upstream unreachable upstream="auth" '
       f'error="ConnectionRefusedError" peer=172.18.0.{i}:8000' for i in range(12)]
    + [f"shop-auth-service-1  | 2026-12-03T21:00:{i:02d} info auth: request status=200" for i in range(40)]
    + ["shop-billing-service-1  | Traceback (most recent call last):", "not a log line at all"]
)  # fmt: skip


def test_repeated_errors_are_counted_by_what_they_say():
    found = scan(LOGS, repeat_limit=10)
    assert found["lines"] == 78
    assert found["errors"] == {"shop-chat-service": 25, "shop-gateway": 12, "shop-billing-service": 1}
    assert [(r["service"], r["count"]) for r in found["repeated"]] == [("shop-chat-service", 25), ("shop-gateway", 12)]
    chat = found["repeated"][0]["message"]
    assert chat.startswith("<time> error chat: request failed") and "/chats/<n>" in chat, chat
    assert "<addr>" in found["repeated"][1]["message"]


def test_the_limit_and_the_pattern_are_the_teams():
    assert [r["service"] for r in scan(LOGS, repeat_limit=20)["repeated"]] == ["shop-chat-service"]
    assert scan(LOGS, pattern=r"\bwarn\b", repeat_limit=1)["repeated"] == []
    assert scan(LOGS, pattern=r"status=200", repeat_limit=40)["repeated"][0]["service"] == "shop-auth-service"


@pytest.mark.parametrize(
    "container, service",
    [("chat-service-1", "chat-service"), ("shop-api-2", "shop-api"), ("worker_2", "worker"), ("other", "other")],
)  # fmt: skip
def test_service_of(container, service):
    assert service_of(container) == service


def test_shape_sets_aside_what_varies():
    one = shape("2026-12-03T21:00:01Z error: job 123e4567-e89b-12d3-a456-426614174000 took 12.5 s at 0x7f3a")
    two = shape("2026-12-04T01:02:03Z error: job 00000000-0000-0000-0000-000000000000 took 3 s at 0x1")
    assert one == two == "<time> error: job <id> took <n> s at <hex>"


def test_repeated_line_names_the_most_said_first():
    repeated = [{"service": f"s{i}", "message": "m", "count": 50 - i} for i in range(5)]
    assert repeated_line(repeated) == "s0 said 'm' 50 times; s1 said 'm' 49 times; s2 said 'm' 48 times; 2 more"
