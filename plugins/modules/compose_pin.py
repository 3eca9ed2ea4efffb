#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_pin
short_description: Pin one compose service to an older release in an override file
description:
  - Procedure C rolls back one service while the rest of the stack stays on the deployed release. The
    service's definition from the older release's compose file is written to a compose override file
    (O(path)) with the C(!override) tag, so that Compose (2.24 or later) runs exactly that release's
    definition (image, environment, health check) for the service. The C(build) section is left out; the
    older image must exist.
  - The file's top-level C(x-runbook-pins) mapping records which release each pinned service comes from.
    Compose ignores it; this module and the deployment history read it.
  - With O(state=absent) the pin of O(service), or every pin when O(service) is omitted, is removed; the
    file is deleted when no pin is left. Whole-stack deploys and rollbacks do this.
  - The file is replaced atomically.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
attributes:
  check_mode:
    support: full
    details: Reports what would change without writing.
options:
  path:
    description: The override file (in the collection's state directory).
    type: path
    required: true
  service:
    description: The compose service to pin or unpin.
    type: str
  version:
    description: The release the pinned definition comes from. Required with O(state=present).
    type: str
  compose_text:
    description: The text of that release's compose file. Required with O(state=present).
    type: str
  image:
    description:
      - The image to run when that release builds the service without an image name (its own build, kept as
        C(<project>-<service>:<version>)). A service that names its image runs that one.
    type: str
  state:
    description: V(present) pins O(service); V(absent) unpins it (or everything); V(query) only reads.
    type: str
    choices: [present, absent, query]
    default: present
"""

EXAMPLES = r"""
- name: Read the compose file of the last good release
  ansible.builtin.command:
    argv: [git, -C, /srv/app, show, "v1.2.3:compose.yaml"]
  register: old_compose
  changed_when: false

- name: Pin payments to v1.2.3
  runbook.rollback.compose_pin:
    path: /var/lib/runbook-rollback/pins.compose.yml
    service: payments
    version: v1.2.3
    compose_text: "{{ old_compose.stdout }}"

- name: Forget every pin after a whole-stack rollback
  runbook.rollback.compose_pin:
    path: /var/lib/runbook-rollback/pins.compose.yml
    state: absent
"""

RETURN = r"""
pins:
  description: Pinned services and the release each comes from, after the change.
  returned: always
  type: dict
  sample: {payments: v1.2.3}
exists:
  description: Whether the override file exists after the change (pass it to Compose only then).
  returned: always
  type: bool
  sample: true
"""

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.partial import (
    PinError,
    apply,
    parse,
    render,
    service_definition,
)


def read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return parse(f.read())
    except FileNotFoundError:
        return {}


def write(path, text):
    parent = os.path.dirname(path) or "."
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pins.", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # The release's own service definition: owner and group only, like every file of the state directory.
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            service=dict(type="str"),
            version=dict(type="str"),
            compose_text=dict(type="str"),
            image=dict(type="str"),
            state=dict(type="str", choices=["present", "absent", "query"], default="present"),
        ),
        required_if=[("state", "present", ("service", "version", "compose_text"))],
        supports_check_mode=True,
    )
    p = module.params
    path = p["path"]
    try:
        before = read(path)
        if p["state"] == "query":
            module.exit_json(changed=False, pins={k: v["version"] for k, v in before.items()},
                             exists=os.path.exists(path))
        definition = None
        if p["state"] == "present":
            definition = service_definition(p["compose_text"], p["service"], p["version"], p["image"])
        after = apply(before, p["service"], p["version"], definition, remove=p["state"] == "absent")
    except PinError as exc:
        module.fail_json(msg="%s (%s)" % (exc, path) if "pins file" in str(exc) else str(exc))
    changed = after != before
    if changed and not module.check_mode:
        try:
            if after:
                write(path, render(after, path))
            else:
                os.unlink(path)
        except OSError as exc:
            module.fail_json(msg="cannot write %s: %s" % (path, exc.strerror or exc))
    module.exit_json(changed=changed, pins={k: v["version"] for k, v in after.items()},
                     exists=bool(after) if changed else os.path.exists(path))


if __name__ == "__main__":
    main()
