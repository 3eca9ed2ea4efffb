"""A staging stack deployed by the collection's own playbooks: its own repository, project and port.

Used by the integration tests and by the downtime benchmark."""

from __future__ import annotations

import json
import os
import resource
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner
import yaml
from receiver import remember_secret

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
# The staging app's own settings (its smoke flows), a second inventory source beside each stack's own.
APP_INVENTORY = REPO / "inventory" / "staging_app"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def failed_messages(events: list[dict]) -> list[str]:
    """The msg of each failed task that was not ignored, in order, from a run's ansible-runner events."""
    return [str(e["event_data"].get("res", {}).get("msg", "")) for e in events
            if e.get("event") == "runner_on_failed" and not e["event_data"].get("ignore_errors")]  # fmt: skip


@dataclass
class Run:
    """A playbook's run: its exit code, its output, and its events (ansible-runner's, as AWX stores them)."""

    rc: int
    output: str
    events: list[dict] = field(default_factory=list)

    @property
    def stats(self) -> dict:
        """The playbook_on_stats event's counts: {"changed": {host: n}, "failures": {...}, ...}."""
        found = [e["event_data"] for e in self.events if e.get("event") == "playbook_on_stats"]
        return found[-1] if found else {}

    @property
    def changed(self) -> int:
        """How many tasks changed something (summed over hosts), from the run's stats event (else its recap)."""
        if self.events:
            return sum((self.stats.get("changed") or {}).values())
        total = 0
        for line in self.output.splitlines():
            if " changed=" in line and " ok=" in line:
                total += int(line.split(" changed=")[1].split()[0])
        return total

    def failed_tasks(self) -> list[str]:
        """The msg of each failed task that was not ignored, in order, from the run's events."""
        return failed_messages(self.events)

    def why_failed(self) -> list[str]:
        """What the run said of its failure: its failed tasks' messages, else (a run without events) the output's
        fatal and failed lines."""
        return self.failed_tasks() or [line for line in self.output.splitlines()
                                       if line.startswith(("fatal:", "failed:"))]  # fmt: skip

    def hosts_that_ran(self) -> set[str]:
        """The hosts that ran at least one task, from the run's events."""
        return {e["event_data"]["host"] for e in self.events
                if e.get("event") in ("runner_on_ok", "runner_on_failed", "runner_on_skipped")}  # fmt: skip

    @property
    def kept(self) -> str:
        """Everything of the run that outlives it: its output and its events as AWX keeps them (task results,
        module arguments), for the checks that no secret is ever printed or stored."""
        return self.output + "\n" + json.dumps(self.events, default=str)


@contextmanager
def cost(name: str):
    """Appends what a run of the collection cost (test, name, rc, wall and CPU seconds) to the file that
    RUNBOOK_PLAYBOOKS names, for the table `.ci/run` ends with (scripts/phases.py). The CPU is every process
    the run started and waited for (workers, modules, docker CLIs), not the engine's or the containers'."""
    path = os.environ.get("RUNBOOK_PLAYBOOKS")
    rc: list[int] = []
    start, used = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    yield rc.append
    if path and rc:
        now = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime
        test = os.environ.get("PYTEST_CURRENT_TEST", "-").split(" ")[0]
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{test}\t{name}\t{rc[0]}\t{time.monotonic() - start:.2f}\t{cpu:.2f}\n")


class Stack:
    """The staging app deployed by the collection's own playbooks into a temporary directory.

    The stack's host is this machine (connection local); RemoteStack (target.py) is the same stack on a
    host of its own reached over SSH. What a test reads or runs on the stack's host goes through host()
    and read()."""

    host_name = "staging-test"
    # The app's own inventory, a second source beside the stack's (None: the stack's inventory says it all).
    app_inventory: Path | None = APP_INVENTORY
    compose_file = "docker-compose.prod.yml"

    def __init__(self, root: Path, name: str, echo: bool = True, port: int | None = None):
        self.echo = echo
        self.root = root
        self.project = name
        self.port = port or free_port()
        # The stack's own database password, given only through the inventory's compose environment, as a
        # team would: no output, state file, evidence or report may ever hold it (assert_no_secret).
        self.db_password = remember_secret("db-" + secrets.token_hex(12))
        self.app_dir = self.host_path("app")
        self.state_dir = self.host_path("state")
        self.inventory = root / "inventory"
        self.timelines = root / "timelines"
        self._write_inventory()
        self._make_repository()

    def host_path(self, name: str) -> Path:
        """A directory of the stack on its host."""
        return self.root / name

    def host(self, argv: list[str], *, check: bool = True, env: dict | None = None, stdin=None, text: bool = True,
             ) -> subprocess.CompletedProcess:  # fmt: skip
        """A command run on the stack's host (output captured)."""
        return subprocess.run(argv, env=dict(os.environ, **(env or {})), capture_output=True, text=text, check=check,
                              stdin=stdin)  # fmt: skip

    def read(self, path: Path) -> str | None:
        """A file of the stack's host, or None when there is none."""
        return path.read_text() if path.exists() else None

    def files(self, directory: Path, pattern: str = "*") -> list[Path]:
        """The files of a directory of the stack's host matching `pattern`, sorted."""
        return sorted(p for p in directory.glob(pattern) if p.is_file())

    def host_vars(self) -> dict:
        """How Ansible reaches the stack's host."""
        return {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}

    def _write_inventory(self) -> None:
        (self.inventory / "group_vars").mkdir(parents=True)
        hosts = {"rollback_targets": {"hosts": {self.host_name: self.host_vars()}}}
        group_vars = {
            "rollback_local_staging": True,
            "rollback_app_dir": str(self.app_dir),
            "rollback_state_dir": str(self.state_dir),
            "rollback_project_name": self.project,
            "rollback_compose_env": self.compose_env(),
            "rollback_gateway_url": f"http://127.0.0.1:{self.port}",
            # The stability watch is the runbook's 15 minutes by default; tests that want it ask for it.
            "verify_stability_seconds": 0,
            # The probe of what users saw is on by default; the tests that check it ask for it.
            "rollback_probe": False,
        }
        (self.inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
        (self.inventory / "group_vars" / "rollback_targets.yml").write_text(yaml.safe_dump(group_vars))

    def _make_repository(self) -> None:
        """The staging app's git repository with its release tags, and its origin beside it, as
        demo/staging.yml makes them for the demo and the drills (a team's app has its own)."""
        subprocess.run(
            [sys.executable, str(REPO / "demo" / "releases.py"), "--dest", str(self.app_dir),
             "--origin", str(self.root / "origin.git")],
            check=True, capture_output=True, text=True,
        )  # fmt: skip

    def compose_env(self, **extra: str) -> dict[str, str]:
        """The compose environment of the stack's inventory (a test adding a setting keeps the password)."""
        return {"GATEWAY_PORT": str(self.port), "POSTGRES_PASSWORD": self.db_password, **extra}

    def write_group_vars(self, **values) -> None:
        """Add settings to the stack's inventory, as an operator would in group_vars."""
        path = self.inventory / "group_vars" / "rollback_targets.yml"
        path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **values}))

    def _inventory_sources(self) -> list[Path]:
        return [self.inventory, self.app_inventory] if self.app_inventory else [self.inventory]

    def _inventories(self) -> list[str]:
        return [arg for source in self._inventory_sources() for arg in ("-i", str(source))]

    def _playbook_command(self, name: str, args: tuple, extra_vars: dict, wrap=()) -> tuple[list[str], dict]:
        """The ansible-playbook command line, run under `wrap` (e.g. unshare) when given, and its environment."""
        cmd = [*wrap, str(BIN / "ansible-playbook"), *self._inventories(), f"playbooks/{name}.yml", *args]
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        # The run's temporary files under the stack's own directory: a module killed mid-run (the fault tests) leaves
        # its unpacked payload there, removed with the stack, instead of in the machine's /tmp.
        scratch = self.root / "tmp"
        scratch.mkdir(exist_ok=True)
        env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            RUNBOOK_TIMELINE_DIR=str(self.timelines),
            PATH=f"{BIN}:{os.environ.get('PATH', '')}",
            TMPDIR=str(scratch),
        )
        return cmd, env

    def playbook(self, name: str, *args: str, timeout: int = 900, wrap=(), **extra_vars) -> Run:
        """playbooks/<name>.yml against the stack, through ansible_runner.run (the engine AWX runs every job with):
        its output, rc and events. Under `wrap` (a command it runs under, e.g. unshare) it is a plain process."""
        if wrap:
            return self._playbook_process(name, args, extra_vars, wrap, timeout)
        _cmd, env = self._playbook_command(name, args, extra_vars)
        private = Path(tempfile.mkdtemp(prefix="runner-", dir=self.root))
        with cost(name) as done:
            runner = ansible_runner.run(
                private_data_dir=str(private), project_dir=str(REPO), playbook=f"playbooks/{name}.yml",
                inventory=[str(source) for source in self._inventory_sources()],
                cmdline=shlex.join(args) if args else None, extravars=extra_vars or None,
                envvars={k: env[k] for k in ("ANSIBLE_CONFIG", "ANSIBLE_NOCOLOR", "ANSIBLE_FORCE_COLOR",
                                             "RUNBOOK_TIMELINE_DIR", "PATH", "TMPDIR")},
                timeout=timeout, suppress_env_files=True, quiet=True,
                # No signal handler of the runner's in the test process: ^C stops the tests as usual.
                cancel_callback=lambda: False,
            )  # fmt: skip
            # A run that never started (status "error") has no rc of its own.
            rc = runner.rc if runner.status != "timeout" and isinstance(runner.rc, int) else 254
            done(rc)
        output = runner.stdout.read() if runner.stdout else ""
        events = list(runner.events)
        shutil.rmtree(private, ignore_errors=True)
        if runner.status == "timeout":
            raise subprocess.TimeoutExpired(f"playbooks/{name}.yml", timeout, output=output)
        if self.echo:
            print(output[-6000:])
        return Run(rc, output, events)

    def _playbook_process(self, name: str, args: tuple, extra_vars: dict, wrap, timeout: int) -> Run:
        cmd, env = self._playbook_command(name, args, extra_vars, wrap)
        with cost(name) as done:
            proc = subprocess.run(
                cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
                check=False,
            )
            done(proc.returncode)
        if self.echo:
            print(proc.stdout[-6000:])
        return Run(proc.returncode, proc.stdout)

    def module(self, name: str, args: dict, timeout: int = 300) -> tuple[int, dict]:
        """runbook.rollback.<name> on the stack's host through `ansible`; (rc, the task's result)."""
        argv = [
            str(BIN / "ansible"), self.host_name, *self._inventories(),
            "-m", f"runbook.rollback.{name}", "-a", json.dumps(args),
        ]  # fmt: skip
        env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
            ANSIBLE_NOCOLOR="1",
            RUNBOOK_TIMELINE_DIR=str(self.timelines),
            PATH=f"{BIN}:{os.environ.get('PATH', '')}",
        )
        with cost(f"module {name}") as done:
            proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)
            done(proc.returncode)
        try:
            out = json.loads(proc.stdout)
        except ValueError:
            raise AssertionError(f"ansible output is not JSON:\n{proc.stdout}\n{proc.stderr}") from None
        return proc.returncode, out["plays"][0]["tasks"][0]["hosts"][self.host_name]

    def seed(self, version: str, result: str = "verified") -> None:
        """The stack on `version` as deploy.yml leaves it when the release comes up healthy (work tree at the
        tag, every service up and healthy, the history's line: `verified`, or `failed` for a release that
        serves but fails its verification, such as v1.2.4), made directly: a git checkout, one
        `docker compose up --wait` and the collection's deploy_history module, where deploy.yml costs a
        playbook run. For fixtures whose subject comes after that deploy; deploy.yml's own deploys, good and
        failing, are tested in test_procedure_a, test_backup and by the drills."""
        git = ["git", "-C", str(self.app_dir)]
        self.host([*git, "checkout", "--quiet", "--detach", f"refs/tags/{version}"])
        commit = self.host([*git, "rev-parse", "HEAD"]).stdout.strip()
        # The inventory's compose environment, with whatever a test added to it, as deploy.yml would use it.
        group_vars = yaml.safe_load((self.inventory / "group_vars" / "rollback_targets.yml").read_text())
        env = {k: str(v) for k, v in group_vars["rollback_compose_env"].items()}
        before = self.containers()
        up = self.compose("up", "--detach", "--wait", "--wait-timeout", "300", "--no-build", "--pull", "never",
                          "--remove-orphans", check=False, env=env)  # fmt: skip
        assert up.returncode == 0, f"the stack did not come up on {version}: {up.stderr[-2000:]}"
        after = self.containers()
        history = self.history()
        entry = {"version": version, "commit": commit, "action": "deploy", "procedure": "deploy", "result": result,
                 "from_version": history[-1]["version"] if history else None,
                 "run_id": f"seed-{uuid.uuid4().hex[:8]}",
                 "restarted": sorted(s for s in after if after[s] != before.get(s)), "backup": None}  # fmt: skip
        rc, recorded = self.module("deploy_history", {"path": str(self.state_dir / "deployments.jsonl"),
                                                      "state": "record", "entry": entry})  # fmt: skip
        assert rc == 0, recorded

    def compose(
        self, *args: str, check: bool = True, text: bool = True, stdin=None, env: dict | None = None
    ) -> subprocess.CompletedProcess:
        cmd = ["docker", "compose", "-p", self.project, "-f", str(self.app_dir / self.compose_file), *args]
        return self.host(cmd, env=env if env is not None else self.compose_env(), check=check, text=text, stdin=stdin)

    def containers(self) -> dict[str, tuple[str, str]]:
        """Service name -> (container id, start time) for every container of the project."""
        label = f"label=com.docker.compose.project={self.project}"
        ids = self.host(["docker", "ps", "-aq", "--filter", label]).stdout.split()
        if not ids:
            return {}
        inspected = json.loads(self.host(["docker", "inspect", *ids]).stdout)
        return {
            c["Config"]["Labels"]["com.docker.compose.service"]: (c["Id"], c["State"]["StartedAt"]) for c in inspected
        }

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, {}

    def history(self) -> list[dict]:
        text = self.read(self.state_dir / "deployments.jsonl") or ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    @contextmanager
    def traffic(self, seconds: float = 60, rate: float = 30):
        """User traffic through the gateway (demo/traffic.py) for the duration of the `with` block; the
        process yielded has `out`, the file its full result (requests, accepted writes) is written to."""
        out = self.root / f"traffic-{os.getpid()}-{len(list(self.root.glob('traffic-*')))}.json"
        argv = [
            sys.executable, str(REPO / "demo" / "traffic.py"), "--url", f"http://127.0.0.1:{self.port}",
            "--duration", str(seconds), "--rate", str(rate), "--workers", "4", "--out", str(out),
        ]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        proc.out = out
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(timeout=30)

    def decision(self, incident: str) -> dict:
        return json.loads(self.read(self.state_dir / "incidents" / incident / "decision.json"))

    def destroy(self) -> None:
        if self.read(self.app_dir / self.compose_file) is not None:
            self.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)

    def start_playbook(self, name: str, *args: str, wrap=(), **extra_vars) -> subprocess.Popen:
        """The same run as playbook(), started in its own process group and not waited for.

        Its output (stdout and stderr) is a text pipe, unbuffered, so that a test can act on a
        line as soon as it is printed, e.g. kill the whole run with os.killpg(proc.pid, SIGKILL).
        """
        cmd, env = self._playbook_command(name, args, extra_vars, wrap)
        env["PYTHONUNBUFFERED"] = "1"
        return subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            start_new_session=True,
        )  # fmt: skip


def engine_problem() -> str | None:
    """Why no Docker engine answers (the one `make setup` starts), or None."""
    probe = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    return None if probe.returncode == 0 else "no Docker engine answers: run `make setup` first\n" + probe.stderr[-500:]


@contextmanager
def new_stack(prefix: str = "rbtest", kind: type[Stack] = Stack, project: str | None = None):
    """A stack of its own (directory, project name, port), taken down with its volumes afterwards: the staging
    app, or another `kind` of Stack; `project` begins its compose project's name (default: `prefix`)."""
    root = Path(tempfile.mkdtemp(prefix=prefix + "-"))
    st = kind(root, f"{project or prefix}{uuid.uuid4().hex[:8]}")
    try:
        yield st
    finally:
        st.destroy()
        shutil.rmtree(root, ignore_errors=True)
