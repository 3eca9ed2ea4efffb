"""The staging app's data as users make it and as PostgreSQL holds it, for tests that must lose none."""

from __future__ import annotations

import json
import urllib.request

TABLES = ("users", "chats", "messages", "subscriptions")


def psql(stack, sql: str, database: str = "saas_db") -> str:
    return stack.compose("exec", "-T", "postgres", "psql", "-At", "-d", database, "-c", sql).stdout.strip()


def counts(stack) -> dict[str, int]:
    return {t: int(psql(stack, f"SELECT count(*) FROM {t}")) for t in TABLES}  # noqa: S608 - fixed names


def databases(stack) -> list[str]:
    return psql(stack, "SELECT datname FROM pg_database ORDER BY 1", "postgres").split()


def api(stack, path: str, payload: dict, token: str | None = None) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{stack.port}{path}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - http://127.0.0.1 only
        return json.loads(resp.read())


def write_as_user(stack, email: str, password: str, chat: str, message: str, register: bool = True) -> None:
    if register:
        api(stack, "/api/auth/register", {"email": email, "password": password})
    token = api(stack, "/api/auth/login", {"email": email, "password": password})["token"]
    chat_id = api(stack, "/api/chats", {"title": chat}, token)["id"]
    api(stack, f"/api/chats/{chat_id}/messages", {"body": message}, token)


def sidecars(stack) -> list[dict]:
    return [json.loads(stack.read(p)) for p in stack.files(stack.state_dir / "backups", "*.json")]


def broken_with_data(stack, known: dict, late: dict) -> dict:
    """The stack on v1.2.3 with a known user's chat and a few seconds of users' traffic, then on v1.3.0, whose
    migration loses every chat and message (its deploy takes the pre-deploy backup, the only copy), then a
    late user's write that only the database a restore replaces will hold. Returns the pre-deploy backup.

    known: {email, password}; late: {email, password, chat, message}."""
    stack.write_group_vars(rollback_known_user=known)
    stack.seed("v1.2.3")
    write_as_user(stack, known["email"], known["password"], "the known user's chat", "kept by the restore")
    with stack.traffic(seconds=8, rate=20) as users:
        users.wait(timeout=60)
    run = stack.playbook("deploy", version="v1.3.0", deploy_fail_on_verify=False)
    assert run.rc == 0, run.output
    (pre,) = [m for m in sidecars(stack) if m["tag"] == "pre_deploy"]
    assert counts(stack)["messages"] < pre["row_counts"]["messages"]
    # Users go on writing on the broken release; only the kept database will have this.
    write_as_user(stack, late["email"], late["password"], late["chat"], late["message"])
    return pre
