# -*- coding: utf-8 -*-
# Copyright: runbook.rollback maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only inspection of a release in a git work tree (logic behind runbook.rollback.git_release).

Every git call goes through a ``run(argv, timeout=None) -> (rc, stdout, stderr)`` callable, so
the module can use ``AnsibleModule.run_command`` and the tests a plain subprocess runner against
real repositories.
"""

from __future__ import annotations

import os
import re
import subprocess

from ansible_collections.runbook.rollback.plugins.module_utils.compose import (
    built_images,
    compose_services,
    name_release_builds,
)
from ansible_collections.runbook.rollback.plugins.module_utils.versions import (
    DEFAULT_VERSION_PATTERN,
    quote,
    release_tags,
    sort_versions,
    validate_version,
    validate_version_pattern,
)

# Never let git stop and wait for a password: an unattended rollback would hang there instead
# of falling back to local tags. GIT_SSH_COMMAND is deliberately not set, because it would
# override a deploy key configured with core.sshCommand; the fetch timeout bounds ssh instead.
# LC_ALL=C keeps git's messages in the English the warnings quote.
GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "/bin/false",
    "SSH_ASKPASS": "/bin/false",
    "LC_ALL": "C",
}

_REMOTE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]*")
_NEWEST_SHOWN = 3


class GitReleaseError(Exception):
    """Raised with the one-line message the module fails with."""


def subprocess_runner(argv, timeout=None):
    """Runner for tests and scripts; argv only, never a shell."""
    env = dict(os.environ, **GIT_ENV)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return 124, "", "timed out after %ss" % timeout
    return proc.returncode, proc.stdout, proc.stderr


def validate_remote(remote):
    # A remote is passed to `git fetch` as an argument: a leading "-" would be read as an option
    # (e.g. --upload-pack=...), so only plain remote names are accepted.
    if not isinstance(remote, str) or not _REMOTE_NAME.fullmatch(remote) or ".." in remote:
        raise GitReleaseError("invalid remote %s: expected a remote name such as origin" % quote(remote))
    return remote


def validate_compose_file(path):
    # The path is joined into "<commit>:<path>"; keep it inside the repository.
    if not isinstance(path, str) or not path or path.startswith(("/", "-")) or "\x00" in path:
        raise GitReleaseError("invalid compose_file %s: expected a path relative to the repository" % quote(path))
    if ".." in path.replace("\\", "/").split("/"):
        raise GitReleaseError("invalid compose_file %s: must not leave the repository" % quote(path))
    return path


def short_reason(stderr, limit=120):
    """The line of git's stderr that explains a failure, without the 'fatal: ' prefix."""
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
    if not lines:
        return "no error output"
    # git prints the root cause on the first fatal/error line; later lines are advice.
    picked = next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[0])
    for prefix in ("fatal: ", "error: "):
        if picked.startswith(prefix):
            picked = picked[len(prefix):]
    return picked if len(picked) <= limit else picked[: limit - 3] + "..."


def parse_porcelain_z(output):
    """Paths from `git status --porcelain -z`; for renames/copies the new path."""
    paths = []
    fields = output.split("\x00")
    i = 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        paths.append(path)
        # With -z a rename is "R  new\0old\0": the source path is a separate field.
        if "R" in code or "C" in code:
            i += 1
    return paths


def newest_tags_hint(tags):
    if not tags:
        return "no release tags found"
    return "newest tags: " + ", ".join(tags[:_NEWEST_SHOWN])


class GitRelease:
    def __init__(self, run, repo, fetch_timeout=30, warn=None):
        self.run = run
        self.repo = repo
        self.fetch_timeout = fetch_timeout
        self.warn = warn or (lambda msg: None)

    def git(self, *args, timeout=None):
        return self.run(["git", "-C", self.repo] + list(args), timeout=timeout)

    def check_work_tree(self):
        if not os.path.isdir(self.repo):
            raise GitReleaseError("repo %s is not a directory" % self.repo)
        rc, out, err = self.git("rev-parse", "--is-inside-work-tree")
        if rc != 0 or out.strip() != "true":
            why = short_reason(err) if rc else "bare repository"
            raise GitReleaseError("%s is not a git work tree (%s)" % (self.repo, why))

    def fetch_tags(self, remote):
        rc, _out, err = self.git("fetch", "--tags", "--force", "--", remote, timeout=self.fetch_timeout)
        if rc == 0:
            return True
        reason = "timed out after %ss" % self.fetch_timeout if rc == 124 else short_reason(err)
        self.warn("could not fetch from %s (%s); using local tags" % (remote, reason))
        return False

    def all_tags(self):
        rc, out, err = self.git("for-each-ref", "--format=%(refname:strip=2)", "refs/tags")
        if rc != 0:
            raise GitReleaseError("cannot list tags in %s: %s" % (self.repo, short_reason(err)))
        return [ln for ln in out.splitlines() if ln]

    def tag_commit(self, version):
        rc, out, _err = self.git("rev-parse", "--verify", "--quiet", "refs/tags/%s^{commit}" % version)
        return out.strip() if rc == 0 and out.strip() else None

    def head_commit(self):
        rc, out, _err = self.git("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        return out.strip() if rc == 0 and out.strip() else None

    def tags_at_head(self):
        rc, out, _err = self.git("tag", "--points-at", "HEAD")
        return [ln for ln in out.splitlines() if ln] if rc == 0 else []

    def dirty_files(self):
        rc, out, err = self.git("status", "--porcelain", "-z", "--untracked-files=no")
        if rc != 0:
            raise GitReleaseError("git status failed in %s: %s" % (self.repo, short_reason(err)))
        return parse_porcelain_z(out)

    def file_at(self, commit, path):
        rc, out, _err = self.git("cat-file", "-e", "%s:%s" % (commit, path))
        if rc != 0:
            return None
        rc, out, err = self.git("show", "%s:%s" % (commit, path))
        if rc != 0:
            raise GitReleaseError("cannot read %s at %s: %s" % (path, commit[:12], short_reason(err)))
        return out


def inspect_release(
    run,
    repo,
    version,
    remote="origin",
    fetch=True,
    compose_file="compose.yaml",
    version_pattern=DEFAULT_VERSION_PATTERN,
    fetch_timeout=30,
    warn=None,
    project=None,
):
    """Everything git_release returns, checked in the runbook's order; raises GitReleaseError.

    version None: the newest release tag at the work tree's HEAD (the release checked out now)."""
    # Validate before any git call: the version becomes a ref name and an argv element.
    try:
        validate_version_pattern(version_pattern)
        if version is not None:
            validate_version(version, version_pattern)
    except ValueError as exc:
        raise GitReleaseError(str(exc)) from None
    validate_compose_file(compose_file)
    if fetch:
        validate_remote(remote)

    g = GitRelease(run, repo, fetch_timeout=fetch_timeout, warn=warn)
    g.check_work_tree()

    fetched = g.fetch_tags(remote) if fetch else False
    tags = release_tags(g.all_tags(), version_pattern)
    current_commit = g.head_commit()
    at_head = release_tags(g.tags_at_head(), version_pattern) if current_commit else []
    current_version = sort_versions(at_head)[0] if at_head else None
    if version is None:
        if current_version is None:
            raise GitReleaseError(
                "the work tree %s is at commit %s, which no release tag names; check out the release that runs, "
                "or name it with version" % (repo, current_commit[:12] if current_commit else "(none)")
            )
        version = current_version

    commit = g.tag_commit(version)
    if commit is None:
        if not fetch:
            source = "fetch disabled, local tags only"
        elif fetched:
            source = "fetched from %s" % remote
        else:
            source = "%s unreachable, local tags only" % remote
        raise GitReleaseError("tag %s not found in %s (%s); %s" % (version, repo, source, newest_tags_hint(tags)))

    text = g.file_at(commit, compose_file)
    if text is None:
        raise GitReleaseError(
            "compose file %s does not exist at %s (commit %s) in %s" % (compose_file, version, commit[:12], repo)
        )
    try:
        services = name_release_builds(compose_services(text), project, version)
    except ValueError as exc:
        raise GitReleaseError("%s at %s: %s" % (compose_file, version, exc)) from None

    return {
        "version": version,
        "commit": commit,
        "fetched": fetched,
        "tags": tags,
        "current_commit": current_commit,
        "current_version": current_version,
        "at_target": current_commit == commit,
        "dirty": g.dirty_files(),
        "compose_services": services,
        "images": built_images(services),
        # Services built without an image name: each release's own build, and the name compose runs it by.
        "release_builds": [
            {"service": name, "release_image": spec["release_image"], "runs_as": spec["runs_as"]}
            for name, spec in sorted(services.items()) if spec.get("release_image")
        ],
    }


def checkout_release(run, repo, release, expect_commit=None, check_mode=False):
    """Check the work tree out detached at an inspected release (inspect_release's result) and confirm HEAD.

    expect_commit: the commit the release was proved at earlier in the run; a tag that points elsewhere now
    is refused before anything changes. Returns {changed, current_commit}; raises GitReleaseError."""
    commit = release["commit"]
    if expect_commit and expect_commit != commit:
        raise GitReleaseError(
            "tag %s now points to %s, not to %s as when it was proved; nothing was checked out"
            % (release["version"], commit[:12], expect_commit[:12])
        )
    if release["at_target"]:
        return {"changed": False, "current_commit": commit}
    if check_mode:
        return {"changed": True, "current_commit": release["current_commit"]}
    g = GitRelease(run, repo)
    rc, _out, err = g.git("checkout", "--quiet", "--detach", commit)
    if rc != 0:
        raise GitReleaseError("cannot check out %s in %s: %s" % (release["version"], repo, short_reason(err, 300)))
    head = g.head_commit()
    if head != commit:
        raise GitReleaseError(
            "the work tree is at %s after the checkout, not at %s (%s)"
            % ((head or "no commit")[:12], release["version"], commit[:12])
        )
    return {"changed": True, "current_commit": head}
