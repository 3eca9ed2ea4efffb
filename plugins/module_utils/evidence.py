# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evidence of a compose project's state, captured before an emergency shutdown destroys it.

Everything is read-only and tolerant: a container that crash-loops, a daemon that answers one call and
not the next, a work tree with local changes; what cannot be read is recorded as such in the manifest,
never a reason to stop capturing the rest. Each file is written 0640 (logs carry user data) and listed
in manifest.json with its size and sha256, so a later investigation can tell that nothing was altered.

Evidence is kept for people to read, so it holds no secret the stack was given: `docker inspect` carries
every container's environment (database passwords, API keys), and its values are replaced by a mark,
names kept, except for a few that never hold one (ENV_KEEP). Of each log only the newest bytes up to a
limit are kept (the lines around the incident), read in chunks within a time limit: a container that
writes as fast as it can must not hold up the shutdown that the evidence precedes, nor exhaust the
host's memory.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import subprocess
import time

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
REDACTED = "<redacted>"
# Environment variables whose values are kept in the evidence: they describe the image, never a secret.
ENV_KEEP = ("PATH", "HOME", "HOSTNAME", "LANG", "LC_ALL", "TZ", "TERM")
CHUNK = 1 << 16


def run(argv, timeout, env=None):
    """(rc, stdout bytes, stderr text); never raises for a failing or hanging command."""
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return 124, b"", "timed out after %ss" % timeout
    except OSError as exc:
        return 127, b"", str(exc)
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")


def redact_environment(inspected, keep=ENV_KEEP):
    """`docker inspect` output with every environment value replaced by REDACTED, but for `keep`."""
    for container in inspected:
        config = container.get("Config") if isinstance(container, dict) else None
        env = (config or {}).get("Env")
        if isinstance(env, list):
            config["Env"] = [
                item if not isinstance(item, str) or "=" not in item or item.split("=", 1)[0] in keep
                else item.split("=", 1)[0] + "=" + REDACTED
                for item in env
            ]  # fmt: skip
    return inspected


def first_line(text, default):
    return ((text or "").strip().splitlines() or [default])[0][:200]


class Capture:
    def __init__(self, dest, timeout=60, log_max_bytes=None):
        self.dest = dest
        self.timeout = timeout
        self.log_max_bytes = log_max_bytes
        self.files = []
        self.problems = []
        try:
            os.makedirs(dest, mode=0o750, exist_ok=True)
        except OSError as exc:
            self.problems.append("making %s: %s" % (dest, exc.strerror or exc))

    def _open(self, name):
        path = os.path.join(self.dest, name)
        os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
        return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640), "wb")

    def write(self, name, data, what):
        """Write one file; a file that cannot be written (a full disk) is a problem, not an end."""
        try:
            with self._open(name) as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            self.problems.append("writing %s: %s" % (name, exc.strerror or exc))
            return False
        self.files.append({"file": name, "what": what, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        return True

    def command(self, name, argv, what, env=None, stdout_only=False):
        rc, out, err = run(argv, self.timeout, env)
        data = out if stdout_only or not err else out + ("\n--- stderr ---\n" + err).encode()
        self.write(name, data, what)
        if rc != 0:
            self.problems.append("%s: %s" % (what, first_line(err, "rc %d" % rc)))
        return rc, out

    def stream(self, name, argv, what):
        """A command's output (both streams, as docker logs splits them) to a file, keeping its last
        log_max_bytes: the newest lines are the ones around the incident. Memory holds at most that many
        bytes, and reading stops at the timeout (what was read by then is kept)."""
        kept, size, total, cut = collections.deque(), 0, 0, False
        deadline = time.monotonic() + self.timeout
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as exc:
            self.problems.append("%s: %s" % (what, exc))
            return
        try:
            while True:
                chunk = proc.stdout.read(CHUNK)
                if not chunk:
                    break
                kept.append(chunk)
                size += len(chunk)
                total += len(chunk)
                while self.log_max_bytes is not None and size > self.log_max_bytes:
                    extra = size - self.log_max_bytes
                    if len(kept[0]) <= extra:
                        size -= len(kept.popleft())
                    else:
                        kept[0] = kept[0][extra:]
                        size -= extra
                    cut = True
                if time.monotonic() > deadline:
                    cut = True
                    break
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            rc = proc.wait()
        if cut:
            self.problems.append("%s: only the last %d of %d bytes read are kept (limit %s bytes, %s s)"
                                 % (what, size, total, self.log_max_bytes, self.timeout))  # fmt: skip
        elif rc != 0:
            self.problems.append("%s: rc %d" % (what, rc))
        if self.write(name, b"".join(kept), what):
            self.files[-1]["truncated"] = cut


def container_ids(project, timeout):
    rc, out, err = run(["docker", "ps", "--all", "--quiet", "--no-trunc",
                        "--filter", "label=com.docker.compose.project=%s" % project], timeout)  # fmt: skip
    if rc != 0:
        return None, (err.strip().splitlines() or ["rc %d" % rc])[0]
    return out.decode().split(), None


def capture(project, compose_argv, app_dir, dest, history=None, env=None, timeout=60, log_tail=None,
            log_max_bytes=None, env_keep=ENV_KEEP):  # fmt: skip
    """Capture the project's evidence into `dest`; returns the manifest (also written as manifest.json)."""
    cap = Capture(dest, timeout, log_max_bytes)
    ids, error = container_ids(project, timeout)
    if ids is None:
        cap.problems.append("listing the project's containers: %s" % error)
        ids = []
    containers = []
    if ids:
        rc, out, err = run(["docker", "inspect"] + ids, timeout)
        try:
            inspected = json.loads(out.decode() or "[]") if rc == 0 else []
        except ValueError:
            inspected = []
        if rc != 0:
            cap.problems.append("docker inspect of every container: %s" % first_line(err, "rc %d" % rc))
        redacted = redact_environment(inspected, tuple(env_keep))
        cap.write("inspect.json", (json.dumps(redacted, indent=2) + "\n").encode(),
                  "docker inspect of every container (environment values redacted)")  # fmt: skip
        for c in inspected:
            labels = (c.get("Config") or {}).get("Labels") or {}
            service = labels.get("com.docker.compose.service", "unknown")
            name = "logs/%s-%s.log" % (SAFE_NAME.sub("_", service), c["Id"][:12])
            # The engine reads a log from its end with --tail; without a line count of the caller's, as many
            # lines as could fill the byte limit (16 bytes a line at least) spares reading weeks of log.
            tail = log_tail or (max(1, log_max_bytes // 16) if log_max_bytes else None)
            argv = ["docker", "logs", "--timestamps"] + (["--tail", str(tail)] if tail else []) + [c["Id"]]
            cap.stream(name, argv, "logs of %s (%s)" % (service, c["Id"][:12]))
            state = c.get("State") or {}
            containers.append({
                "service": service, "id": c["Id"][:12], "image": (c.get("Config") or {}).get("Image"),
                "status": state.get("Status"), "health": (state.get("Health") or {}).get("Status"),
                "restart_count": c.get("RestartCount"), "exit_code": state.get("ExitCode"),
                "started_at": state.get("StartedAt"), "log": name,
            })  # fmt: skip
    cap.command("compose-ps.json", list(compose_argv) + ["ps", "--all", "--format", "json"], "docker compose ps",
                env=env)  # fmt: skip
    version = {}
    for key, argv in (
        ("describe", ["git", "-C", app_dir, "describe", "--tags", "--always", "--dirty"]),
        ("commit", ["git", "-C", app_dir, "rev-parse", "HEAD"]),
        ("status", ["git", "-C", app_dir, "status", "--porcelain"]),
    ):
        rc, out, err = run(argv, timeout)
        version[key] = out.decode("utf-8", "replace").strip() if rc == 0 else None
        if rc != 0:
            cap.problems.append("git %s in %s: %s" % (key, app_dir, (err.strip().splitlines() or ["rc %d" % rc])[0]))
    version["history_current"] = history
    cap.write("version.json", (json.dumps(version, indent=2, sort_keys=True) + "\n").encode(), "the deployed version")
    manifest = {"project": project, "containers": containers, "files": cap.files, "problems": cap.problems}
    cap.write("manifest.json", (json.dumps(manifest, indent=2) + "\n").encode(), "this list")
    return manifest
