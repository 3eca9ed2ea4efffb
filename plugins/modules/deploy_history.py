#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deploy_history
short_description: Record deployments and rollbacks, and find the last known good version
description:
  - Keeps a JSON-lines history file, one object per deploy or rollback.
  - With O(state=query) reads it and decides the last known good version to roll back to.
  - A version is bad when its latest entry did not verify, or when a rollback moved away from it,
    unless a later entry for that version verified. The last known good version is the newest verified
    entry whose version is neither bad nor the current one.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
attributes:
  check_mode:
    support: full
    details: O(state=record) reports the entry it would append without writing.
options:
  path:
    description: History file (for example C(deployments.jsonl)). Its parent directory is created on record.
    type: path
    required: true
  state:
    description:
      - V(query) reads the history; a missing file is an empty history.
      - V(record) appends O(entry) with the time it was recorded.
    type: str
    choices: [query, record]
    default: query
  entry:
    description:
      - The deploy or rollback to record; required with O(state=record).
      - C(version) is required. Usual keys are C(commit), C(action) (C(deploy) or C(rollback)), C(procedure),
        C(result) (C(verified), C(failed), ...), C(from_version), C(run_id) and C(backup).
      - C(at) (ISO-8601 UTC) is added unless given.
    type: dict
  exclude_version:
    description:
      - Version treated as current (and never proposed as last good) instead of the version of the last entry,
        typically the version actually running.
    type: str
  limit:
    description: How many of the newest entries to return in RV(entries); V(0) returns all.
    type: int
    default: 10
notes:
  - Lines that are not valid JSON (for example a write torn by a crash) are skipped with a warning.
"""

EXAMPLES = r"""
- name: Find the version to roll back to
  runbook.rollback.deploy_history:
    path: /srv/app/.runbook/deployments.jsonl
  register: history

- name: Record the verified rollback
  runbook.rollback.deploy_history:
    path: /srv/app/.runbook/deployments.jsonl
    state: record
    entry:
      version: "{{ history.last_good }}"
      commit: "{{ release.commit }}"
      action: rollback
      procedure: rollback
      result: verified
      from_version: "{{ history.current.version }}"
      run_id: "{{ runbook_run_id }}"
"""

RETURN = r"""
entries:
  description: The newest O(limit) entries, oldest first.
  returned: state=query
  type: list
  elements: dict
  sample:
    - {version: v1.2.3, action: deploy, result: verified, at: "2026-11-28T10:00:00Z"}
    - {version: v1.2.4, action: deploy, result: failed, at: "2026-11-28T12:00:00Z"}
count:
  description: Number of valid entries in the history.
  returned: state=query
  type: int
  sample: 2
current:
  description: The last entry, or null when the history is empty.
  returned: state=query
  type: dict
  sample: {version: v1.2.4, action: deploy, result: failed, at: "2026-11-28T12:00:00Z"}
last_good:
  description: The last known good version, or null when there is none.
  returned: state=query
  type: str
  sample: v1.2.3
last_good_reason:
  description: One line explaining RV(last_good), or why none was found.
  returned: state=query
  type: str
  sample: "v1.2.3: last deployment verified at 2026-11-28T10:00:00Z; v1.2.4 (current) failed verification"
bad_versions:
  description: Versions not to roll back to, most recently marked first.
  returned: state=query
  type: list
  elements: str
  sample: [v1.2.4]
entry:
  description: The entry appended (or that would be appended in check mode).
  returned: state=record
  type: dict
  sample: {version: v1.2.3, action: rollback, result: verified, from_version: v1.2.4, at: "2026-11-28T12:10:00Z"}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.history import (
    HistoryError,
    append_entry,
    make_entry,
    read_history,
    summarise,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            state=dict(type="str", choices=["query", "record"], default="query"),
            entry=dict(type="dict"),
            exclude_version=dict(type="str"),
            limit=dict(type="int", default=10),
        ),
        required_if=[("state", "record", ["entry"])],
        supports_check_mode=True,
    )
    p = module.params
    if p["limit"] < 0:
        module.fail_json(msg="limit must be 0 (all) or more")

    if p["state"] == "record":
        try:
            record = make_entry(p["entry"])
            if not module.check_mode:
                append_entry(p["path"], record)
        except HistoryError as exc:
            module.fail_json(msg=str(exc))
        except OSError as exc:
            module.fail_json(msg="cannot append to %s: %s" % (p["path"], exc.strerror or exc))
        module.exit_json(changed=True, entry=record)

    try:
        entries, warnings = read_history(p["path"])
    except OSError as exc:
        module.fail_json(msg="cannot read %s: %s" % (p["path"], exc.strerror or exc))
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, **summarise(entries, p["exclude_version"], p["limit"]))


if __name__ == "__main__":
    main()
