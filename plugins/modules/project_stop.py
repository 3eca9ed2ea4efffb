#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: project_stop
short_description: Stop every container of a compose project, and keep stopping until none runs
description:
  - Procedure D's stop. Finds the project's containers by their C(com.docker.compose.project) label, so it needs
    neither a valid compose file nor any service to answer, and stops (never removes) every one that runs or
    restarts in a loop, but for the services named in O(keep).
  - It does not stop once. A container that a crash loop, a restart policy or another run (a rollback's staged
    restart that had not yet seen the shutdown mark) starts again is stopped again, until nothing has run for
    O(settle) seconds in a row, or O(timeout) seconds have passed; then it fails, naming what still runs.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
attributes:
  check_mode:
    support: full
    details: Reports what runs, and would be stopped, without stopping it.
options:
  project:
    description: The compose project name.
    type: str
    required: true
  keep:
    description: Services left running (the data services, for forensics).
    type: list
    elements: str
    default: []
  stop_timeout:
    description: Seconds each container gets between SIGTERM (or its stop signal) and SIGKILL.
    type: int
    default: 10
  settle:
    description: Seconds in a row with nothing of the project running before the stop counts as done.
    type: float
    default: 3
  timeout:
    description: Seconds after which a project that keeps coming back is reported as failing.
    type: float
    default: 120
"""

EXAMPLES = r"""
- name: Stop everything of the project but its data services
  runbook.rollback.project_stop:
    project: shop
    keep: [postgres, redis]
"""

RETURN = r"""
stopped:
  description: The services whose containers were stopped, each once, sorted.
  returned: always
  type: list
  elements: str
running:
  description: The services still running at the end (the kept ones, or those that kept coming back).
  returned: always
  type: list
  elements: str
rounds:
  description: How many times something had to be stopped.
  returned: always
  type: int
"""

import subprocess
import time

from ansible.module_utils.basic import AnsibleModule

SERVICE_FORMAT = '{{.ID}} {{.Label "com.docker.compose.service"}}'


def first_line(text, default):
    return ((text or "").strip().splitlines() or [default])[0][:200]


def running(project):
    """[(id, service)] of the project's running or restarting containers."""
    proc = subprocess.run(
        ["docker", "ps", "--filter", "label=com.docker.compose.project=%s" % project, "--format", SERVICE_FORMAT],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError("docker ps failed: %s" % first_line(proc.stderr, "rc %d" % proc.returncode))
    found = []
    for line in proc.stdout.splitlines():
        cid, _unused, service = line.strip().partition(" ")
        if cid:
            found.append((cid, service or "unknown"))
    return found


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project=dict(type="str", required=True),
            keep=dict(type="list", elements="str", default=[]),
            stop_timeout=dict(type="int", default=10),
            settle=dict(type="float", default=3),
            timeout=dict(type="float", default=120),
        ),
        supports_check_mode=True,
    )
    p = module.params
    keep = set(p["keep"])
    stopped, rounds = set(), 0
    deadline = time.monotonic() + p["timeout"]
    quiet_since = None
    try:
        while True:
            targets = [(cid, service) for cid, service in running(p["project"]) if service not in keep]
            if module.check_mode:
                module.exit_json(changed=bool(targets), stopped=sorted({s for _unused, s in targets}),
                                 running=sorted({s for _unused, s in running(p["project"])}), rounds=0)  # fmt: skip
            now = time.monotonic()
            if not targets:
                quiet_since = quiet_since or now
                if now - quiet_since >= p["settle"]:
                    break
                time.sleep(min(0.5, p["settle"] - (now - quiet_since)))
                continue
            else:
                quiet_since = None
                if now > deadline:
                    module.fail_json(msg="still running after %ds of stopping: %s"
                                     % (p["timeout"], ", ".join(sorted({s for _unused, s in targets}))),
                                     stopped=sorted(stopped), running=sorted({s for _unused, s in targets}),
                                     rounds=rounds)  # fmt: skip
                rounds += 1
                names = [c for c, _unused in targets]
                proc = subprocess.run(["docker", "stop", "--time", str(p["stop_timeout"])] + names,
                                      capture_output=True, text=True, check=False)  # fmt: skip
                stopped.update(s for _unused, s in targets)
                if proc.returncode != 0 and "No such container" not in proc.stderr:
                    module.warn("docker stop: %s" % first_line(proc.stderr, "rc %d" % proc.returncode))
                    # Something went wrong: look again after a pause, not at once.
                    time.sleep(0.5)
        left = sorted({s for _unused, s in running(p["project"])})
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        module.fail_json(msg=str(exc), stopped=sorted(stopped), running=[], rounds=rounds)
    module.exit_json(changed=bool(stopped), stopped=sorted(stopped), running=left, rounds=rounds)


if __name__ == "__main__":
    main()
