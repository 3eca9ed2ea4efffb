"""Users writing at 40 requests/s from before a destructive release until after its rollback: no write
the app accepted is lost. The pre-deploy backup is taken under that traffic, Procedure B restores it
while a client keeps reconnecting to the database, and every accepted chat and message is then either
in the restored database or in the reconciliation export of what the restore did not bring back."""

from __future__ import annotations

import json
import subprocess

import pytest
from data import databases, psql
from receiver import secrets_found

INCIDENT = "inc-writes"


def reconnecting_client(stack) -> subprocess.Popen:
    """A client that connects to saas_db, queries and disconnects, in a loop, from inside the database
    container (a worker or a pooler that never gives up)."""
    loop = "while :; do psql -qAt -d saas_db -c 'SELECT 1' >/dev/null 2>&1; done"
    return subprocess.Popen(["docker", "exec", f"{stack.project}-postgres-1", "sh", "-c", loop],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


@pytest.mark.fault(
    "A pre-deploy backup taken under 40 requests/s of writes, then Procedure B under the same traffic, with a "
    "client reconnecting to the database in a loop during the swap",
    how="demo/traffic.py at 40 requests/s; psql connecting in a loop in the database container",
    holds="every write the app accepted is in the restored database or in the reconciliation export",
)
def test_every_accepted_write_survives_a_destructive_release_and_its_rollback(stack, fault_result):
    stack.seed("v1.2.3")
    client = None
    with stack.traffic(seconds=600, rate=40) as users:
        deploy = stack.playbook("deploy", version="v1.3.0", deploy_fail_on_verify=False)
        assert deploy.rc == 0, deploy.output[-3000:]
        client = reconnecting_client(stack)
        try:
            run = stack.playbook("procedure_b", incident=INCIDENT)
        finally:
            client.terminate()
            client.wait(timeout=30)
    assert run.rc == 0, run.output[-4000:]
    assert stack.get("/health")[1].get("version") == "v1.2.3"
    (kept,) = [d for d in databases(stack) if d.startswith("saas_db_before_rollback_")]

    writes = json.loads(users.out.read_text())["writes"]
    assert len(writes) > 100, "the traffic wrote too little to prove anything"
    restored = set(psql(stack, "SELECT title FROM chats UNION ALL SELECT body FROM messages").splitlines())
    exported = "".join(p.read_text() for p in (stack.state_dir / "incidents" / INCIDENT).rglob("*.csv"))
    lost = [w for w in writes if w["text"] not in restored and w["text"] not in exported]
    # Writes made on the broken release are only in the kept database: exported, not restored.
    in_export = [w for w in writes if w["text"] not in restored and w["text"] in exported]
    assert in_export, "no write made on v1.3.0 reached the reconciliation export"

    # reconcile.sql puts them back into the restored database, without colliding with its ids, each message
    # in the chat it was written in.
    script = next((stack.state_dir / "incidents" / INCIDENT).rglob("reconcile.sql"))
    with script.open("rb") as fh:
        load = stack.compose("exec", "-T", "postgres", "psql", "-v", "ON_ERROR_STOP=1", "-d", "saas_db", "-f", "-",
                             check=False, text=False, stdin=fh)  # fmt: skip
    assert load.returncode == 0, load.stderr.decode()[-2000:]
    now = set(psql(stack, "SELECT title FROM chats UNION ALL SELECT body FROM messages").splitlines())
    assert [w for w in writes if w["text"] not in now] == [], "a write is still missing after the reconciliation"
    pairs = "SELECT c.title || ' / ' || m.body FROM messages m JOIN chats c ON c.id = m.chat_id"
    assert set(psql(stack, pairs, kept).splitlines()) <= set(psql(stack, pairs).splitlines()), (
        "a message of the kept database sits in another chat after the reconciliation")
    found = secrets_found([deploy.output, run.output], stack.state_dir, stack.timelines)
    fault_result.update(rows_lost=len(lost), secrets_found=len(found))
    assert lost == [], f"{len(lost)} of {len(writes)} accepted writes lost, e.g. {lost[:3]}"
    assert found == []
