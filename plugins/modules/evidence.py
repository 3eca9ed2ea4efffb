#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: evidence
short_description: Capture a compose project's logs, inspect data and version before an emergency shutdown
description:
  - Writes into O(dest) what an investigation of a breach or of data corruption needs and what stopping or
    removing the stack would lose, all read-only; every container's logs with timestamps (C(logs/<service>-<id>.log)),
    C(docker inspect) of every container (C(inspect.json)), C(docker compose ps --all) (C(compose-ps.json)), and
    the deployed version (C(version.json), with C(git describe --dirty), the commit, local changes and the
    deployment history's current entry).
  - Works on a badly broken stack (crash-looping containers, a dead gateway, a dirty work tree). What cannot be
    read is listed in C(problems) and in the manifest; it never stops the capture.
  - C(manifest.json) lists every file with its size and sha256. Files are mode 0640 (logs carry user data).
  - No secret the stack was given reaches the evidence; every environment value in C(inspect.json) is
    replaced by C(<redacted>), names kept, but for those named in O(env_keep).
  - Of each log the newest O(log_max_bytes) are kept (the lines around the incident), read from the end
    (C(docker logs --tail), O(log_tail) lines or as many as could fill the limit) in chunks within O(timeout)
    seconds; a container that logs as fast as it can neither holds up the shutdown nor fills the host's memory.
  - A file that cannot be written (a full disk) is listed in C(problems) like anything unreadable; the
    capture, and the shutdown after it, go on.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
  - runbook.rollback.compose
attributes:
  check_mode:
    support: none
options:
  project:
    description: The compose project name (its containers carry the label C(com.docker.compose.project)).
    type: str
    required: true
  compose_argv:
    description: The C(docker compose) command line of the project (argv).
    type: list
    elements: str
    required: true
  app_dir:
    description: The application's git work tree.
    type: path
    required: true
  dest:
    description: Directory for the evidence (created, mode 0750).
    type: path
    required: true
  history:
    description: The deployment history's current entry, recorded in C(version.json).
    type: dict
  log_tail:
    description: Keep only the last lines of each container's log; by default the whole log.
    type: int
  log_max_bytes:
    description: Keep only the newest this many bytes of a container's log (noted in C(problems) when cut).
    type: int
    default: 104857600
  env_keep:
    description: Environment variables whose values stay in C(inspect.json); every other value is redacted.
    type: list
    elements: str
    default: [PATH, HOME, HOSTNAME, LANG, LC_ALL, TZ, TERM]
  timeout:
    description: Seconds for each docker or git call.
    type: float
    default: 60
"""

EXAMPLES = r"""
- name: Keep the evidence before the emergency shutdown
  runbook.rollback.evidence:
    project: shop
    compose_argv: "{{ rollback_compose_argv }}"
    app_dir: /srv/shop/app
    dest: /var/lib/runbook-rollback/incidents/INC-7/evidence
"""

RETURN = r"""
containers:
  description: Each container's service, id, image, status, health, restart count, exit code, start time and log file.
  returned: always
  type: list
  elements: dict
files:
  description: Every file written, with what it holds, its size and sha256.
  returned: always
  type: list
  elements: dict
problems:
  description: What could not be read (one line each).
  returned: always
  type: list
  elements: str
dest:
  description: Where the evidence is.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.backup import compose_options
from ansible_collections.runbook.rollback.plugins.module_utils.evidence import ENV_KEEP, capture


def main():
    module = AnsibleModule(
        argument_spec=dict(
            **compose_options(required=True, database=False),
            project=dict(type="str", required=True),
            app_dir=dict(type="path", required=True),
            dest=dict(type="path", required=True),
            history=dict(type="dict"),
            log_tail=dict(type="int"),
            log_max_bytes=dict(type="int", default=104857600),
            env_keep=dict(type="list", elements="str", default=list(ENV_KEEP)),
            timeout=dict(type="float", default=60),
        ),
        supports_check_mode=False,
    )
    p = module.params
    env = dict(os.environ, **{k: str(v) for k, v in p["compose_env"].items()})
    try:
        manifest = capture(p["project"], p["compose_argv"], p["app_dir"], p["dest"], history=p["history"], env=env,
                           timeout=p["timeout"], log_tail=p["log_tail"], log_max_bytes=p["log_max_bytes"],
                           env_keep=p["env_keep"])  # fmt: skip
    except OSError as exc:
        module.fail_json(msg="writing the evidence into %s failed: %s" % (p["dest"], exc.strerror or exc))
    module.exit_json(changed=True, dest=p["dest"], **{k: manifest[k] for k in ("containers", "files", "problems")})


if __name__ == "__main__":
    main()
