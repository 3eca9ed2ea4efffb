"""A target host of its own: a container running sshd and its own Docker engine (Docker-in-Docker), reached
over SSH on a 127.0.0.1 port with a key made for it, as a production host is reached from a laptop or AWX.

The image (runbook-rollback/target, made by `make setup`) has Debian's engine, sshd, Python and git. The
container gets the capabilities its dockerd needs (--privileged is refused on these machines, see
../shared/DESIGN.md) and a volume of its own at /var/lib/docker; the images the staging app runs are loaded
into its engine with `docker save | docker load`, no registry needed. RemoteStack is tests/integration's
Stack with that host in place of this machine: the same repository, inventory settings and checks, reached
over SSH, everything on the target read through `docker exec`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from stack import REPO, Stack, free_port

TARGET_IMAGE = os.environ.get("RUNBOOK_TARGET_IMAGE", "runbook-rollback/target:bookworm")
BASE_IMAGE = os.environ.get("RUNBOOK_BASE_IMAGE", "runbook-rollback/base:bookworm")
# What dockerd in a container needs on these machines, --privileged aside (DESIGN.md), and SYS_PTRACE: without
# it `docker exec` into an inner container whose process is not root (a health check, pg_dump in postgres)
# fails with "error executing setns process", since opening another user's namespaces is a ptrace check.
ENGINE_OPTIONS = (
    "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "MKNOD", "--cap-add", "SYS_PTRACE",
    "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
    "--security-opt", "systempaths=unconfined", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
)  # fmt: skip


def app_images() -> list[str]:
    """The staging releases' images `make images` built, and the base they are built on."""
    listed = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "mysaas/*"],
                            capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    return [BASE_IMAGE, *sorted(listed)]


class Target:
    """One target host: container `name`, its engine's volume, SSH on a 127.0.0.1 port, and `ports`
    published on 127.0.0.1 with the same number on the host and the target (the app's own ports, so that
    a URL means the same on the controller and on the target)."""

    def __init__(self, name: str, root: Path, ports: tuple[int, ...] = (), images: list[str] | None = None):
        self.name = name
        self.volume = f"{name}-engine"
        self.key = root / "id_ed25519"
        self.known_hosts = root / "known_hosts"
        if not self.key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "runbook-test", "-f", str(self.key)],
                           check=True)  # fmt: skip
        published = [arg for port in ports for arg in ("-p", f"127.0.0.1:{port}:{port}")]
        subprocess.run(
            ["docker", "run", "--detach", "--name", name, "--hostname", name, *ENGINE_OPTIONS,
             "-v", f"{self.volume}:/var/lib/docker", "-p", "127.0.0.1::22", *published, TARGET_IMAGE],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        try:
            self.ssh_port = int(self._docker("port", name, "22").stdout.split(":")[-1])
            self.exec(["sh", "-c", "umask 077; mkdir -p /root/.ssh; cat > /root/.ssh/authorized_keys"],
                      stdin=(root / "id_ed25519.pub").read_text())  # fmt: skip
            host_key = self.exec(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()[:2]
            self.known_hosts.write_text(f"[127.0.0.1]:{self.ssh_port} {' '.join(host_key)}\n")
            self._wait_for_engine()
            if images:
                self.load(images)
        except BaseException:
            self.remove()
            raise

    @staticmethod
    def _docker(*args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, **kw)

    def _wait_for_engine(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.exec(["docker", "info"], check=False).returncode != 0:
            if time.monotonic() > deadline:
                log = self.exec(["tail", "-20", "/var/log/dockerd.log"], check=False).stdout
                raise RuntimeError(f"the engine of target {self.name} did not start:\n{log}")
            time.sleep(0.2)

    def load(self, images: list[str]) -> None:
        """`images` of this machine's engine loaded into the target's engine (one stream, shared layers once)."""
        save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
        load = subprocess.run(["docker", "exec", "-i", self.name, "docker", "load", "--quiet"], stdin=save.stdout,
                              capture_output=True, check=False)  # fmt: skip
        save.stdout.close()
        if save.wait() != 0 or load.returncode != 0:
            raise RuntimeError(f"loading images into {self.name} failed: {load.stderr.decode()[-500:]}")

    def exec(self, argv: list[str], *, check: bool = True, env: dict | None = None, stdin=None, text: bool = True,
             ) -> subprocess.CompletedProcess:  # fmt: skip
        """`argv` run on the target as root (not over SSH: the test's own view of the host)."""
        options = [arg for key, value in (env or {}).items() for arg in ("-e", f"{key}={value}")]
        return subprocess.run(["docker", "exec", "-i", *options, self.name, *argv], input=stdin, capture_output=True,
                              text=text, check=check)  # fmt: skip

    def host_vars(self) -> dict:
        """The inventory's connection settings for this host: SSH as root with the test's key, the target's
        host key pinned, the target's own Python."""
        return {
            "ansible_host": "127.0.0.1",
            "ansible_port": self.ssh_port,
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(self.key),
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes",
            # ansible.cfg turns host key checking off for the local demo, which would put
            # StrictHostKeyChecking=no ahead of the line above: this host's key is checked.
            "ansible_host_key_checking": True,
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    def remove(self) -> None:
        subprocess.run(["docker", "rm", "--force", "--volumes", self.name], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", "--force", self.volume], capture_output=True, check=False)


class RemoteStack(Stack):
    """The staging stack on a target host of its own, reached over SSH; its directories are under /srv."""

    host_name = "target-1"

    def __init__(self, root: Path, name: str, echo: bool = True, project: str | None = None):
        """`name` names the target's container; `project` the compose project (default: the same)."""
        port = free_port()
        self.target = Target(name, root, ports=(port,), images=self.target_images())
        try:
            super().__init__(root, project or name, echo=echo, port=port)
        except BaseException:
            self.target.remove()
            raise

    def target_images(self) -> list[str]:
        """The images this machine's engine has that the target's app runs on."""
        return app_images()

    def host_path(self, name: str) -> Path:
        return Path("/srv/rollback") / name

    def compose_env(self, **extra: str) -> dict[str, str]:
        # The gateway listens on the target's own network (127.0.0.1 of the host publishes it), as a host
        # behind a load balancer would, rather than on the target's loopback.
        return super().compose_env(GATEWAY_BIND="0.0.0.0", **extra)  # noqa: S104 - the target container's network

    def host(self, argv, *, check=True, env=None, stdin=None, text=True):
        if stdin is not None and not isinstance(stdin, (str, bytes)):
            stdin = stdin.read()
        return self.target.exec(argv, check=check, env=env, stdin=stdin, text=text)

    def read(self, path: Path) -> str | None:
        proc = self.target.exec(["cat", str(path)], check=False)
        return proc.stdout if proc.returncode == 0 else None

    def files(self, directory: Path, pattern: str = "*") -> list[Path]:
        found = self.target.exec(["find", str(directory), "-maxdepth", "1", "-type", "f", "-name", pattern],
                                 check=False).stdout.split()  # fmt: skip
        return sorted(Path(p) for p in found)

    def host_vars(self) -> dict:
        return self.target.host_vars()

    def _make_source(self, work: Path) -> None:
        """The app's repository at work/app with its origin at work/origin.git: the staging app's releases."""
        subprocess.run([sys.executable, str(REPO / "demo" / "releases.py"), "--dest", str(work / "app"),
                        "--origin", str(work / "origin.git")], check=True, capture_output=True, text=True)  # fmt: skip

    def _make_repository(self) -> None:
        """The app's repository and origin made here, as for a local stack, then copied to the target and its
        origin pointed at the target's own copy."""
        work = self.root / "source"
        self._make_source(work)
        tar = subprocess.run(["tar", "-C", str(work), "-cf", "-", "app", "origin.git"], capture_output=True, check=True)
        self.host(["sh", "-c", f"mkdir -p {self.app_dir.parent} && tar -C {self.app_dir.parent} -xf -"],
                  stdin=tar.stdout, text=False)  # fmt: skip
        origin = str(self.app_dir.parent / "origin.git")
        self.host(["git", "-C", str(self.app_dir), "remote", "set-url", "origin", origin])
        shutil.rmtree(work)

    def destroy(self) -> None:
        self.target.remove()


@contextmanager
def new_remote_stack(prefix: str = "rbremote"):
    """A RemoteStack of its own (target container and volume, project name, port), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix=prefix + "-"))
    st = None
    try:
        st = RemoteStack(root, f"{prefix}{uuid.uuid4().hex[:8]}")
        yield st
    finally:
        if st is not None:
            st.destroy()
        shutil.rmtree(root, ignore_errors=True)


def ssh_config(target: Target, alias: str) -> str:
    """An ssh_config naming the target `alias`: how Ansible (-F) and testinfra reach it with nothing templated."""
    return "\n".join([
        f"Host {alias}", "  HostName 127.0.0.1", f"  Port {target.ssh_port}", "  User root",
        f"  IdentityFile {target.key}", "  IdentitiesOnly yes", f"  UserKnownHostsFile {target.known_hosts}",
        "  StrictHostKeyChecking yes", "",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """A drill's target host (molecule/default): `up` starts it with the staging app's images and writes its key,
    known host key and ssh_config (naming it `--alias`) into `--dir`; `down` removes it and its engine's volume."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("--name", required=True, help="the target's container")
    parser.add_argument("--dir", type=Path, help="where its key, known_hosts and ssh_config go (up)")
    parser.add_argument("--alias", default="target", help="the host name ssh_config gives it (up)")
    parser.add_argument("--port", type=int, action="append", default=[], help="a port published as itself (up)")
    args = parser.parse_args(argv)
    if args.action == "down":
        subprocess.run(["docker", "rm", "--force", "--volumes", args.name], capture_output=True, check=False)
        subprocess.run(["docker", "volume", "rm", "--force", f"{args.name}-engine"], capture_output=True, check=False)
        return 0
    args.dir.mkdir(parents=True, exist_ok=True)
    target = Target(args.name, args.dir, ports=tuple(args.port), images=app_images())
    (args.dir / "ssh_config").write_text(ssh_config(target, args.alias))
    print(f"target {args.name}: ssh on 127.0.0.1:{target.ssh_port}, ports {args.port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
