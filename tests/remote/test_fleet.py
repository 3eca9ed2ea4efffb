"""A fleet: three target hosts of their own, each running the shop (tests/integration/shop) with its own engine,
reached over SSH from one inventory, rolled back by one run of Procedure A: the canary alone first, then one
host per batch, stopping at the batch that fails. One incident for the fleet: one report with a row per host,
one notification stream (started once, failed once, naming each host's state).

The second host's database lost its orders table (a fault of its own, made for real): the release rolled back
to serves, but cannot take an order, so that host fails its verification."""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from receiver import by_channel, notifying, slack_texts, webhook_events
from shopstack import ShopStack, make_shop_repository
from stack import Stack
from target import BASE_IMAGE, RemoteStack

# What a host's inventory says of it alone; the rest is the fleet's group_vars.
PER_HOST = ("rollback_compose_env", "rollback_gateway_url")


class RemoteShop(RemoteStack, ShopStack):
    """The shop on a target host of its own, as one host of a fleet."""

    def __init__(self, root: Path, name: str, project: str, host_name: str):
        self.host_name = host_name
        super().__init__(root, name, echo=False, project=project)

    def target_images(self) -> list[str]:
        return [BASE_IMAGE, "mysaas/postgres:15"]

    def compose_env(self, **extra: str) -> dict[str, str]:
        # The API listens on the target's own network (the host publishes its port on 127.0.0.1).
        return ShopStack.compose_env(self, SHOP_BIND="0.0.0.0", **extra)  # noqa: S104 - the target container's network

    def _make_source(self, work: Path) -> None:
        make_shop_repository(work / "app", work / "origin.git", work / "seed")

    def start(self, version: str) -> None:
        """The shop started by hand at `version`, built on the target; its worker is not waited for (a release
        whose worker crashes still comes up)."""
        self.host(["git", "-C", str(self.app_dir), "checkout", "--quiet", "--detach", f"refs/tags/{version}"])
        self.compose("up", "--detach", "--build", "--wait", "--wait-timeout", "120", "db", "api")
        self.compose("up", "--detach", "worker")

    def sql(self, statement: str) -> str:
        return self.compose("exec", "-T", "db", "psql", "-U", "shop", "-d", "shop", "-tAc", statement).stdout.strip()


class Fleet:
    """Hosts of one inventory: each a RemoteShop, the same project and paths on each."""

    echo = True
    _playbook_command = Stack._playbook_command
    _playbook_process = Stack._playbook_process
    _inventories = Stack._inventories
    playbook = Stack.playbook

    def __init__(self, root: Path, size: int):
        self.root = root
        self.timelines = root / "timelines"
        self.inventory = root / "inventory"
        project = f"rbfleet{uuid.uuid4().hex[:6]}"

        def member(index: int) -> RemoteShop:
            (root / f"host{index}").mkdir()
            return RemoteShop(root / f"host{index}", f"{project}-{index}", project, f"shop-{index}")

        with ThreadPoolExecutor(size) as pool:
            made = [pool.submit(member, i + 1) for i in range(size)]
        self.members: list[RemoteShop] = []
        failure = None
        for future in made:
            try:
                self.members.append(future.result())
            except Exception as exc:  # the others are removed, then the first error is raised
                failure = failure or exc
        if failure:
            self.destroy()
            raise failure
        self._write_inventory()

    def _write_inventory(self) -> None:
        first = self.members[0]
        group = yaml.safe_load((first.inventory / "group_vars" / "rollback_targets.yml").read_text())
        hosts = {}
        for m in self.members:
            own = yaml.safe_load((m.inventory / "group_vars" / "rollback_targets.yml").read_text())
            hosts[m.host_name] = {**m.host_vars(), **{key: own[key] for key in PER_HOST}}
        for key in PER_HOST:
            group.pop(key)
        group["rollback_report_dir"] = str(self.root / "controller" / "incidents")
        (self.inventory / "group_vars").mkdir(parents=True)
        (self.inventory / "hosts.yml").write_text(yaml.safe_dump({"rollback_targets": {"hosts": hosts}}))
        (self.inventory / "group_vars" / "rollback_targets.yml").write_text(yaml.safe_dump(group))

    def _inventory_sources(self) -> list[Path]:
        return [self.inventory]

    write_group_vars = Stack.write_group_vars

    def destroy(self) -> None:
        for m in self.members:
            m.destroy()


@contextmanager
def new_fleet(size: int):
    root = Path(tempfile.mkdtemp(prefix="rbfleet-"))
    fleet = None
    try:
        fleet = Fleet(root, size)
        yield fleet
    finally:
        if fleet is not None:
            fleet.destroy()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def fleet():
    with new_fleet(3) as made:
        yield made


def test_a_fleet_rolls_back_canary_first_and_stops_at_the_host_that_fails(fleet):
    canary, failing, unreached = fleet.members
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda m: m.start("v1.1.0"), fleet.members))
    for m in fleet.members:
        assert m.http("POST", "/orders", {"item": "before"})[0] == 201
    # The second host's orders table is gone: the release rolled back to starts, but takes no order there.
    failing.sql('DROP TABLE "Order"')
    untouched = unreached.containers()
    # A batch that is no count: refused in one line before the first task, nothing touched.
    run = fleet.playbook("procedure_a", version="v1.0.0", batch="a few")
    assert run.rc != 0 and "batch a number of hosts or a percentage (2, 25%)" in run.output, run.output[-2000:]
    assert "TASK [" not in run.output and all(m.history() == [] for m in fleet.members)

    with notifying(fleet) as receiver:
        run = fleet.playbook("procedure_a", version="v1.0.0", incident="inc-fleet", batch=1)
        sent = by_channel(receiver.take())
    assert run.rc != 0, run.output[-3000:]

    # The canary runs v1.0.0's own code, verified; the failing host was tried and failed; the last host was
    # never reached: its containers are the ones started by hand, it has no history and no lock.
    assert canary.http("GET", "/code") == (200, "v1.0.0")
    assert [(e["version"], e["result"]) for e in canary.history()] == [("v1.0.0", "verified")]
    assert [(e["version"], e["result"]) for e in failing.history()][-1:] == [("v1.0.0", "failed")]
    assert unreached.containers() == untouched and unreached.http("GET", "/code") == (200, "v1.1.0")
    assert unreached.history() == [] and unreached.read(unreached.state_dir / "lock") is None
    for m in (canary, failing):
        assert m.read(m.state_dir / "lock") is None, m.host_name
    # One run: every host that ran names the same run id.
    assert canary.history()[-1]["run_id"] == failing.history()[-1]["run_id"]
    assert run.hosts_that_ran() >= {"shop-1", "shop-2"} and "shop-3" not in run.hosts_that_ran()

    # One notification stream: started once, failed once with each host's state; never completed.
    events = webhook_events(sent)
    assert events.count("started") == 1 and events.count("failed") == 1 and "completed" not in events, events
    (failed,) = [h["json"] for h in sent["webhook"] if h["json"]["event"] == "failed"]
    text = json.dumps(failed)
    for words in ("shop-1 (canary): v1.0.0 verified", "shop-2: failed", "shop-3: not reached, untouched"):
        assert words in text, text
    (told,) = [m for m in slack_texts(sent) if "shop-2: failed" in m]
    assert "shop-3: not reached, untouched" in told, told
    # The status page incident the start opened is the one the end updates.
    opened = [r for r in sent["statuspage"] if r["method"] == "POST"]
    assert len(opened) == 1, sent["statuspage"]

    # One report for the fleet, a row per host, beside each host's own report; a copy of each record on its host.
    incident = fleet.root / "controller" / "incidents" / "inc-fleet"
    report = json.loads((incident / "report.json").read_text())
    rows = {row["host"]: row["state"] for row in report["hosts"]}
    assert rows == {"shop-1": "done", "shop-2": "failed", "shop-3": "not reached"}, report
    assert report["status"] == "failed" and "| shop-2 | failed |" in (incident / "report.md").read_text()
    assert {p.name for p in incident.iterdir() if p.is_dir()} == {"shop-1", "shop-2"}
    for m in (canary, failing):
        (copy,) = m.files(m.state_dir / "incidents" / "inc-fleet", "run-*.json")
        assert json.loads(m.read(copy))["target"] == m.host_name
