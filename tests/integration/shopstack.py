"""The shop (tests/integration/shop), a second app tried the way a new team would: services built with no
image name, a database container whose exec user is root, a mixed-case table, a plain `ok` health answer, no
version and no figures. ShopStack is it on this machine, with an inventory that holds only settings the
README's "Using it on your own stack" lists; tests/remote's fleet runs it on target hosts of their own."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from stack import Stack

SOURCE = Path(__file__).resolve().parent / "shop"
# Each release: what differs from the tree in tests/integration/shop.
RELEASES = {
    "v1.0.0": {},
    "v1.1.0": {"crash": True},  # the worker exits at startup (Procedure C, then A)
    # A migration that loses every order (Procedure B); new orders fail too, so its deploy is not verified.
    "v1.2.0": {"broken": True, "migration": 'DELETE FROM "Order";\n'},
}


def git(repo: Path, *args: str) -> str:
    env_args = ["-c", "user.name=shop", "-c", "user.email=shop@example.test"]
    return subprocess.run(["git", "-C", str(repo), *env_args, *args], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def make_shop_repository(app_dir: Path, origin: Path, work: Path) -> None:
    """The shop's repository at `app_dir`, a commit and tag per release, cloned from its bare `origin`; `work` is
    a scratch directory, removed afterwards."""
    seed = work
    shutil.copytree(SOURCE, seed)
    git(seed, "init", "--quiet", "--initial-branch=main")
    for version, change in RELEASES.items():
        api, worker = seed / "api" / "app.py", seed / "worker" / "worker.py"
        for path, flag in ((api, "BROKEN"), (worker, "CRASH")):
            text = (SOURCE / path.relative_to(seed)).read_text()
            text = text.replace('RELEASE = "dev"', f'RELEASE = "{version}"')
            on = change.get("broken" if flag == "BROKEN" else "crash", False)
            path.write_text(text.replace(f"{flag} = False", f"{flag} = {on}"))
        if change.get("migration"):
            (seed / "migrations" / "0002_archive_orders.sql").write_text(change["migration"])
        git(seed, "add", "--all")
        git(seed, "commit", "--quiet", "--message", f"release {version}")
        git(seed, "tag", "--annotate", "--message", version, version)
    subprocess.run(["git", "clone", "--quiet", "--bare", str(seed), str(origin)], check=True, capture_output=True)
    subprocess.run(["git", "clone", "--quiet", str(origin), str(app_dir)], check=True, capture_output=True)
    shutil.rmtree(seed)


class ShopStack(Stack):
    """The shop on this machine, with an inventory of its own and nothing of the staging app."""

    host_name = "shop-host"
    app_inventory = None
    compose_file = "compose.yaml"

    def compose_env(self, **extra: str) -> dict[str, str]:
        return {"SHOP_PORT": str(self.port), **extra}

    def _write_inventory(self) -> None:
        (self.inventory / "group_vars").mkdir(parents=True)
        hosts = {"rollback_targets": {"hosts": {self.host_name: self.host_vars()}}}
        # What the README's "Using it on your own stack" says a team writes; the rest is the defaults.
        group_vars = {
            "rollback_app_dir": str(self.app_dir),
            "rollback_state_dir": str(self.state_dir),
            "rollback_project_name": self.project,
            "rollback_compose_env": self.compose_env(),
            "rollback_stages": [
                {"name": "storage", "data": True, "services": ["db"]},
                {"name": "app", "services": ["api", "worker"]},
            ],
            "rollback_db_service": "db",
            "rollback_gateway_url": f"http://127.0.0.1:{self.port}",
            "rollback_health_endpoints": [
                {"name": "api", "service": "api", "critical": True, "url": "{{ rollback_gateway_url }}/healthz"}
            ],
            "rollback_smoke_steps": [
                {"name": "order", "path": "/orders", "json": {"item": "smoke ${run}"}, "status": 201}
            ],
        }
        (self.inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
        (self.inventory / "group_vars" / "rollback_targets.yml").write_text(yaml.safe_dump(group_vars))

    def _make_repository(self) -> None:
        """The shop's repository, a commit and tag per release, pushed to its origin beside it."""
        make_shop_repository(self.app_dir, self.root / "origin.git", self.root / "seed")

    def destroy(self) -> None:
        super().destroy()
        listed = self.host(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}",
                            "--filter", f"reference={self.project}-*"]).stdout.split()  # fmt: skip
        if listed:
            self.host(["docker", "image", "rm", "--force", *listed], check=False)

    def http(self, method: str, path: str, body: dict | None = None) -> tuple[int, str]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 - the test's own 127.0.0.1 URL
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def orders(self) -> int:
        status, text = self.http("GET", "/orders")
        assert status == 200, text
        return json.loads(text)["count"]

    def runs_build(self, service: str, version: str) -> bool:
        """Whether the service's container runs the image the collection keeps as that release's build."""
        container, _started = self.containers()[service]
        running = self.host(["docker", "inspect", "--format", "{{.Image}}", container]).stdout.strip()
        kept = self.host(["docker", "image", "inspect", "--format", "{{.Id}}", f"{self.project}-{service}:{version}"],
                         check=False).stdout.strip()  # fmt: skip
        return bool(kept) and running == kept
