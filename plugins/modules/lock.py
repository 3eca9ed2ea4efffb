#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lock
short_description: Take or release the deploy/rollback lock of a stack
description:
  - Creates a JSON lock file naming the run that holds it, so that two deploys or rollbacks never
    run against the same stack at once.
  - The lock is created atomically; a competing run fails with one line saying who holds the lock and since when.
  - An empty or corrupt lock file is never guessed about; taking the lock fails and says so.
author:
  - runbook.rollback maintainers
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
attributes:
  check_mode:
    support: full
    details: Reports whether the lock would be taken or released without writing.
options:
  path:
    description: Lock file. Its parent directory is created when missing.
    type: path
    required: true
  state:
    description:
      - V(present) takes the lock (or confirms this run already holds it).
      - V(absent) releases it, but only when this run holds it.
    type: str
    choices: [present, absent]
    default: present
  run_id:
    description: Identifies this run; the same run taking the lock twice is a no-op.
    type: str
    required: true
  owner:
    description:
      - Free-form description of the run stored in the lock, shown to anyone who finds it held.
      - The keys C(procedure), C(version) and C(user) are used in the "lock held" message.
    type: dict
    default: {}
notes:
  - Releasing a lock held by another run, or a lock file that cannot be parsed, leaves it in place with a warning
    rather than failing, because releasing usually runs in an C(always) section where failing would hide the real error.
"""

EXAMPLES = r"""
- name: Take the rollback lock
  runbook.rollback.lock:
    path: /srv/app/.runbook/lock.json
    run_id: "{{ runbook_run_id }}"
    owner:
      procedure: rollback
      version: "{{ version }}"
      user: "{{ lookup('ansible.builtin.env', 'USER') }}"

- name: Release the rollback lock
  runbook.rollback.lock:
    path: /srv/app/.runbook/lock.json
    run_id: "{{ runbook_run_id }}"
    state: absent
"""

RETURN = r"""
acquired:
  description: Whether this run holds the lock after the task.
  returned: success
  type: bool
  sample: true
holder:
  description:
    - Content of the lock file, or null when there is none.
    - Ours after taking it, the removed one after releasing it, another run's when that run holds it.
  returned: always
  type: dict
  sample:
    run_id: 20261128T100000Z-4f2a
    owner: {procedure: rollback, version: v1.2.3, user: alice}
    host: app-01
    pid: 4242
    acquired_at: "2026-11-28T10:00:00Z"
"""

import os
import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.lock import LockError, ensure_lock


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            run_id=dict(type="str", required=True),
            owner=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = ensure_lock(
            p["path"], p["state"], p["run_id"], owner=p["owner"], host=socket.gethostname(), pid=os.getpid(),
            check_mode=module.check_mode,
        )
    except LockError as exc:
        module.fail_json(msg=str(exc), holder=exc.holder, acquired=False)
    except OSError as exc:
        module.fail_json(msg="cannot manage lock file %s: %s" % (p["path"], exc.strerror or exc), holder=None,
                         acquired=False)
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
