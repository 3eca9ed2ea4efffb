# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evidence of a compose project's state, captured before an emergency shutdown destroys it.

Everything is read-only and tolerant: a container that crash-loops, a daemon that answers one call and
not the next, a work tree with local changes; what cannot be read is recorded as such in the manifest,
never a reason to stop capturing the rest. Each file is written 0640 (logs carry user data) and listed
in manifest.json with its size and sha256, so a later investigation can tell that nothing was altered.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def run(argv, timeout, env=None):
    """(rc, stdout bytes, stderr text); never raises for a failing or hanging command."""
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return 124, b"", "timed out after %ss" % timeout
    except OSError as exc:
        return 127, b"", str(exc)
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")


class Capture:
    def __init__(self, dest, timeout=60):
        self.dest = dest
        self.timeout = timeout
        self.files = []
        self.problems = []
        os.makedirs(dest, mode=0o750, exist_ok=True)

    def write(self, name, data, what):
        path = os.path.join(self.dest, name)
        os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640), "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        self.files.append({"file": name, "what": what, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        return path

    def command(self, name, argv, what, env=None, stdout_only=False):
        rc, out, err = run(argv, self.timeout, env)
        data = out if stdout_only or not err else out + ("\n--- stderr ---\n" + err).encode()
        self.write(name, data, what)
        if rc != 0:
            line = (err.strip().splitlines() or ["rc %d" % rc])[0][:200]
            self.problems.append("%s: %s" % (what, line))
        return rc, out


def container_ids(project, timeout):
    rc, out, err = run(["docker", "ps", "--all", "--quiet", "--no-trunc",
                        "--filter", "label=com.docker.compose.project=%s" % project], timeout)  # fmt: skip
    if rc != 0:
        return None, (err.strip().splitlines() or ["rc %d" % rc])[0]
    return out.decode().split(), None


def capture(project, compose_argv, app_dir, dest, history=None, env=None, timeout=60, log_tail=None):
    """Capture the project's evidence into `dest`; returns the manifest (also written as manifest.json)."""
    cap = Capture(dest, timeout)
    ids, error = container_ids(project, timeout)
    if ids is None:
        cap.problems.append("listing the project's containers: %s" % error)
        ids = []
    containers = []
    if ids:
        rc, out = cap.command("inspect.json", ["docker", "inspect"] + ids, "docker inspect of every container",
                              stdout_only=True)  # fmt: skip
        try:
            inspected = json.loads(out.decode() or "[]") if rc == 0 else []
        except ValueError:
            inspected = []
        for c in inspected:
            labels = (c.get("Config") or {}).get("Labels") or {}
            service = labels.get("com.docker.compose.service", "unknown")
            name = "logs/%s-%s.log" % (SAFE_NAME.sub("_", service), c["Id"][:12])
            argv = ["docker", "logs", "--timestamps"] + (["--tail", str(log_tail)] if log_tail else []) + [c["Id"]]
            cap.command(name, argv, "logs of %s (%s)" % (service, c["Id"][:12]))
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
