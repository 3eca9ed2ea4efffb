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
  - The lock is created atomically; a competing run fails with one line saying who holds the lock
    (procedure, version, user), on which controller host and pid, since when, and whether that run is still alive.
  - The lock names the run's controller process (the C(ansible-playbook) process, found from the controller side
    of this module, with its start time), not the short-lived process of the module on the target. So on
    the controller that took it, a lock whose process is gone, or whose pid now belongs to another process,
    is recognised as stale; while a worker forked from a killed C(ansible-playbook) still finishes its task,
    the run still counts as alive.
  - Nothing is broken automatically. With O(break_lock=true) a stale lock, a lock taken on another controller
    more than O(foreign_grace) seconds ago (whose run nobody here can check) or an empty or corrupt lock file is
    removed and taken, with a warning naming what was broken. A lock whose run is still alive on this
    controller is never broken, nor a lock another controller took within the grace.
  - Under AWX/Tower the lock names the job (C(JOB_ID), C(AWX_HOST) from the job's environment), and another
    job's lock is judged by asking AWX whether that job is over (with the credentials a job template's
    credential of the type Red Hat Ansible Automation Platform injects). The lock of a job AWX says is still
    running, or of one AWX could not be asked about, is never broken, whatever its container's host name.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
attributes:
  check_mode:
    support: full
    details: Reports whether the lock would be taken or released without writing.
options:
  path:
    description: Lock file. Its parent directory is created when missing, readable by its owner and group only.
    type: path
    required: true
  shutdown_mark:
    description:
      - A file whose presence means the stack was shut down on purpose (Procedure D's mark). While it exists the
        lock is not taken and the task fails, saying which incident shut the stack down and since when, so that
        nothing is started until the shutdown is cleared deliberately. Only with O(state=present).
    type: path
  stack:
    description: The stack's name in that message, for example the compose project.
    type: str
    default: the stack
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
  break_lock:
    description:
      - Break the lock of another run that is not alive, then take it; only with O(state=present).
      - Breaks a stale lock (its controller process is gone or is another process now), a lock taken on
        another controller host more than O(foreign_grace) seconds ago (its liveness cannot be checked from
        here, so make sure that run is over)
        and an empty or corrupt lock file (nobody can tell who holds it).
      - Never breaks the lock of a run that is still alive on this controller, or of an AWX job that AWX does not
        say is over; the task fails instead.
    type: bool
    default: false
  host:
    description:
      - Internal. Host name of the controller that takes the lock; the controller side of the module sets it.
    type: str
  pid:
    description:
      - Internal. Pid of the run's C(ansible-playbook) process; the controller side of the module sets it.
    type: int
  started:
    description:
      - Internal. Boot id and start time of that process, so that a reused pid is not taken for the holder.
    type: str
  command:
    description:
      - Internal. sha256 of that process's command line; the workers it forked share it, and a worker that
        outlives a killed C(ansible-playbook) still counts as the run.
    type: str
  awx_job:
    description:
      - Internal. The AWX/Tower job this run is (its C(JOB_ID)); the controller side of the module sets it from
        the environment AWX gives the job, never from a variable.
    type: str
  awx_host:
    description:
      - Internal. The AWX/Tower that runs that job (its C(AWX_HOST)); set like O(awx_job).
    type: str
  foreign_grace:
    description:
      - Seconds during which a lock taken on another controller is not broken, even with O(break_lock=true)
        (nobody here can tell whether that run is alive, and it may well still be running there). 0 breaks it
        at once, as before. Judged by the controller side of the module.
    type: int
    default: 3600
  break_fingerprint:
    description:
      - Internal. sha256 of the lock content the controller judged breakable; only that exact content is removed.
    type: str
notes:
  - The liveness of a holder is judged on the controller, by the action plugin of the same name; the module
    on the target only reads, takes and removes the file.
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

- name: Take the rollback lock, breaking the lock of a run that was killed (never of a live one)
  runbook.rollback.lock:
    path: /srv/app/.runbook/lock.json
    run_id: "{{ runbook_run_id }}"
    owner:
      procedure: rollback
    break_lock: true

- name: Release the rollback lock
  runbook.rollback.lock:
    path: /srv/app/.runbook/lock.json
    run_id: "{{ runbook_run_id }}"
    state: absent
"""

RETURN = r"""
shutdown:
  description: Procedure D's mark (C(incident), C(at)) when it refused the lock.
  returned: when O(shutdown_mark) exists
  type: dict
  sample: {incident: inc-42, at: "2026-11-28T10:00:00Z"}
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
    host: ctl-01
    pid: 4242
    started: "3b1c0f6e-7d9a-4a52-9a55-0c1c0f6e7d9a:881234"
    command: 9f2c4e0b7d1a3c5e8f6b2d4a0c9e7f1b3d5a8c6e2f4b0d9a7c1e3f5b8d6a2c4e
    acquired_at: "2026-11-28T10:00:00Z"
liveness:
  description:
    - What the controller could tell about another run's lock that it found.
    - V(alive), V(stale), V(unknown) (taken on another host) or V(unreadable) (empty or corrupt file).
  returned: when the lock was held by another run
  type: str
  sample: stale
broken:
  description: Whether a lock of another run (or an unreadable lock file) was broken to take it.
  returned: always
  type: bool
  sample: false
broken_holder:
  description: The content of the broken lock; null when none was broken or it could not be read.
  returned: always
  type: dict
  sample:
    run_id: 20261128T093000Z-1777
    owner: {procedure: Procedure A, version: v1.2.3, user: bob}
    host: ctl-01
    pid: 3131
    acquired_at: "2026-11-28T09:30:00Z"
"""

import json
import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.lock import LockError, ensure_lock


def refuse_while_shut_down(module, path, stack):
    """Fail without taking the lock while Procedure D's mark exists."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(65536)
    except FileNotFoundError:
        return
    except OSError as exc:
        module.fail_json(msg="cannot read the shutdown mark %s: %s" % (path, exc.strerror or exc), acquired=False)
    try:
        mark = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        mark = {}
    mark = mark if isinstance(mark, dict) else {}
    module.fail_json(
        msg="Procedure D shut %s down (%s, since %s); nothing is started until the shutdown is cleared "
        "deliberately: ansible-playbook playbooks/procedure_d.yml -e clear=true"
        % (stack, mark.get("incident") or "?", mark.get("at") or "?"),
        acquired=False, holder=None, shutdown={"incident": mark.get("incident"), "at": mark.get("at")},
    )  # fmt: skip


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            run_id=dict(type="str", required=True),
            owner=dict(type="dict", default={}),
            break_lock=dict(type="bool", default=False),
            host=dict(type="str"),
            pid=dict(type="int"),
            started=dict(type="str"),
            command=dict(type="str"),
            awx_job=dict(type="str"),
            awx_host=dict(type="str"),
            break_fingerprint=dict(type="str", no_log=False),
            foreign_grace=dict(type="int", default=3600),
            shutdown_mark=dict(type="path"),
            stack=dict(type="str", default="the stack"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["state"] == "present" and p["shutdown_mark"]:
        refuse_while_shut_down(module, p["shutdown_mark"], p["stack"])
    try:
        result = ensure_lock(
            p["path"], p["state"], p["run_id"], owner=p["owner"],
            # The controller side sets these. This process and its parents on the target say nothing
            # about the run's liveness, so without them the lock names no pid.
            host=p["host"] or socket.gethostname(), pid=p["pid"], started=p["started"],
            command=p["command"], check_mode=module.check_mode, break_fingerprint=p["break_fingerprint"],
            awx_job=p["awx_job"], awx_host=p["awx_host"],
        )
    except LockError as exc:
        module.fail_json(msg=str(exc), holder=exc.holder, acquired=False, fingerprint=exc.fingerprint,
                         unreadable=exc.unreadable)
    except OSError as exc:
        module.fail_json(msg="cannot manage lock file %s: %s" % (p["path"], exc.strerror or exc), holder=None,
                         acquired=False)
    result.setdefault("broken", False)
    result.setdefault("broken_holder", None)
    for warning in result.pop("warnings"):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
