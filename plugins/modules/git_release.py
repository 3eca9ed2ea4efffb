#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: git_release
short_description: Inspect a release tag in a git work tree, and check it out
description:
  - Validates the requested version, fetches tags from the remote (falling back to local tags with a warning
    when it is unreachable), resolves the tag to a commit and reads the compose file at that commit.
  - Reports where the work tree is now (HEAD, its release tag, modified tracked files) so the runbook can decide
    whether a checkout is needed and safe.
  - With O(state=inspected) it never changes the work tree; the only write is the tag fetch into the repository.
  - With O(state=checked_out) it then checks the work tree out detached at the tag's commit, unless it is there
    already, and confirms HEAD afterwards. With O(commit) the tag must still point where it did when the release
    was proved, or nothing is checked out.
author:
  - runbook.rollback maintainers (!UNKNOWN)
extends_documentation_fragment:
  - action_common_attributes
  - runbook.rollback.attributes
attributes:
  check_mode:
    support: full
    details: Fetches tags in check mode too; with O(state=checked_out) it says whether it would check out.
requirements:
  - git
options:
  repo:
    description: Path of the git work tree of the stack.
    type: path
    required: true
  version:
    description:
      - Release tag to inspect. Checked against O(version_pattern) before any git command runs.
      - Omitted, the newest release tag at the work tree's HEAD, the release checked out now; no release tag
        there is an error.
    type: str
  remote:
    description: Remote to fetch tags from.
    type: str
    default: origin
  fetch:
    description: Whether to fetch tags (C(git fetch --tags --force)) before looking the tag up.
    type: bool
    default: true
  fetch_timeout:
    description: Seconds after which the fetch is abandoned and local tags are used.
    type: int
    default: 30
  compose_file:
    description: Compose file, relative to the repository root, that must exist at the tag.
    type: str
    default: compose.yaml
  state:
    description:
      - V(inspected) only reads the release; V(checked_out) also checks the work tree out at it.
    type: str
    choices: [inspected, checked_out]
    default: inspected
  commit:
    description:
      - With O(state=checked_out), the commit O(version) was proved at earlier in the run (for example by a first
        call with O(state=inspected)); a tag that moved since is refused.
    type: str
  project:
    description:
      - The compose project's name. With it, a service built without an C(image:) gets C(release_image)
        (C(<project>-<service>:<version>), the release's own build) and C(runs_as) (C(<project>-<service>), the
        name compose runs it by) in RV(compose_services), and its release image is in RV(images).
    type: str
    default: ""
  version_pattern:
    description:
      - Python regular expression a release tag must match in full. Also selects which tags RV(tags) lists.
    type: str
    default: '^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$'
"""

EXAMPLES = r"""
- name: Check out the release proved earlier, detached at its tag
  runbook.rollback.git_release:
    repo: /srv/app
    version: "{{ version }}"
    fetch: false
    state: checked_out
    commit: "{{ release.commit }}"

- name: Inspect the release to roll back to
  runbook.rollback.git_release:
    repo: /srv/app
    version: "{{ version }}"
  register: release

- name: Refuse to check out over local changes
  ansible.builtin.assert:
    that: release.dirty | length == 0
    fail_msg: "tracked files modified in /srv/app: {{ release.dirty | join(', ') }}"
"""

RETURN = r"""
changed:
  description: Whether the work tree was checked out (O(state=checked_out) only; never otherwise).
  returned: always
  type: bool
  sample: true
version:
  description: The validated version.
  returned: success
  type: str
  sample: v1.2.3
commit:
  description: Commit the tag points to (annotated tags are peeled).
  returned: success
  type: str
  sample: 3f0c2b9d6a1e4f5c8b7a6d5e4f3c2b1a09f8e7d6
fetched:
  description: Whether tags were fetched from O(remote).
  returned: success
  type: bool
  sample: true
tags:
  description: Release tags matching O(version_pattern), newest first by semantic version.
  returned: success
  type: list
  elements: str
  sample: [v1.3.0, v1.2.5, v1.2.4, v1.2.3]
current_commit:
  description: Commit checked out now (HEAD, after the checkout with O(state=checked_out)), or null in a repository
    without commits.
  returned: success
  type: str
  sample: 9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b
current_version:
  description: Release tag at HEAD (the newest if several), or null.
  returned: success
  type: str
  sample: v1.2.4
at_target:
  description: Whether HEAD already was the commit of O(version) (before any checkout).
  returned: success
  type: bool
  sample: false
dirty:
  description: Tracked files modified in the work tree (untracked files are ignored).
  returned: success
  type: list
  elements: str
  sample: [compose.yaml]
compose_services:
  description:
    - Services of the compose file at the tag, with their image and whether they are built.
    - A service built without an image name also has C(release_image) and C(runs_as) when O(project) is given.
  returned: success
  type: dict
  sample:
    api: {image: "registry.example.test/app/api:v1.2.3", build: true}
    postgres: {image: "postgres:16", build: false}
release_builds:
  description:
    - The services built without an image name (with O(project)), each C({service, release_image, runs_as}),
      that is the release's own build and the name compose runs it by.
  returned: success
  type: list
  elements: dict
  sample: [{service: api, release_image: "shop-api:v1.2.3", runs_as: shop-api}]
images:
  description: Sorted unique image names of the services that have C(build) (a build-only service's release image).
  returned: success
  type: list
  elements: str
  sample: ["registry.example.test/app/api:v1.2.3"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.runbook.rollback.plugins.module_utils.gitrepo import (
    GIT_ENV,
    GitReleaseError,
    checkout_release,
    inspect_release,
)
from ansible_collections.runbook.rollback.plugins.module_utils.versions import DEFAULT_VERSION_PATTERN


def main():
    module = AnsibleModule(
        argument_spec=dict(
            repo=dict(type="path", required=True),
            version=dict(type="str"),
            remote=dict(type="str", default="origin"),
            fetch=dict(type="bool", default=True),
            fetch_timeout=dict(type="int", default=30),
            compose_file=dict(type="str", default="compose.yaml"),
            version_pattern=dict(type="str", default=DEFAULT_VERSION_PATTERN),
            project=dict(type="str", default=""),
            state=dict(type="str", choices=["inspected", "checked_out"], default="inspected"),
            commit=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["fetch_timeout"] < 1:
        module.fail_json(msg="fetch_timeout must be at least 1 second")

    git = module.get_bin_path("git", required=True)
    # run_command has no timeout; coreutils timeout bounds the fetch when available.
    timeout_bin = module.get_bin_path("timeout")

    def run(argv, timeout=None):
        argv = [git] + list(argv[1:])
        if timeout and timeout_bin:
            argv = [timeout_bin, "--kill-after=5", str(timeout)] + argv
        return module.run_command(argv, environ_update=GIT_ENV, check_rc=False)

    try:
        result = inspect_release(
            run,
            p["repo"],
            p["version"],
            remote=p["remote"],
            fetch=p["fetch"],
            compose_file=p["compose_file"],
            version_pattern=p["version_pattern"],
            fetch_timeout=p["fetch_timeout"],
            warn=module.warn,
            project=p["project"],
        )
        changed = False
        if p["state"] == "checked_out":
            done = checkout_release(run, p["repo"], result, expect_commit=p["commit"], check_mode=module.check_mode)
            changed = done["changed"]
            result["current_commit"] = done["current_commit"]
    except GitReleaseError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
