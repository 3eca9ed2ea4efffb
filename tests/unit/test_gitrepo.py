"""git_release against real repositories: a bare origin, a clone, and an unreachable remote."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.runbook.rollback.plugins.module_utils.gitrepo import (
    GitReleaseError,
    inspect_release,
    parse_porcelain_z,
    short_reason,
    subprocess_runner,
    validate_compose_file,
    validate_remote,
)

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")

COMPOSE = """services:
  api:
    build: ./api
    image: registry.example.test/app/api:{version}
  web:
    build: ./web
    image: registry.example.test/app/web:{version}
  postgres:
    image: postgres:16
"""


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.test", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.test", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(["git", "-C", str(cwd)] + list(args), check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def commit(repo, version, files):
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "release %s" % version)


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    """origin.git (bare) with v1.0.0 (no compose file), v1.2.3 (annotated), v1.2.4, v1.3.0-rc.1; a clone at
    v1.2.4 with a modified tracked file; a clone at v1.2.3 whose origin is gone; then v1.3.0 is pushed to
    origin only."""
    base = tmp_path_factory.mktemp("git")
    seed = base / "seed"
    seed.mkdir()
    git(seed, "init", "-q", "-b", "main")
    commit(seed, "v1.0.0", {"README": "app\n"})
    git(seed, "tag", "v1.0.0")
    commit(seed, "v1.2.3", {"compose.yaml": COMPOSE.format(version="v1.2.3")})
    git(seed, "tag", "-a", "-m", "v1.2.3", "v1.2.3")  # annotated: must be peeled to the commit
    git(seed, "tag", "latest")
    git(seed, "tag", "v1.2")
    commit(seed, "v1.2.4", {"compose.yaml": COMPOSE.format(version="v1.2.4")})
    git(seed, "tag", "v1.2.4")
    commit(seed, "v1.3.0-rc.1", {"compose.yaml": COMPOSE.format(version="v1.3.0-rc.1")})
    git(seed, "tag", "v1.3.0-rc.1")
    origin = base / "origin.git"
    git(base, "clone", "-q", "--bare", str(seed), str(origin))
    work = base / "work"
    git(base, "clone", "-q", str(origin), str(work))
    git(work, "checkout", "-q", "v1.2.4")
    (work / "compose.yaml").write_text("services: {api: {image: hacked}}\n")
    (work / "untracked.txt").write_text("ignored\n")
    # A second clone whose origin is gone.
    offline = base / "offline"
    git(base, "clone", "-q", str(origin), str(offline))
    git(offline, "checkout", "-q", "v1.2.3")
    git(offline, "remote", "set-url", "origin", str(base / "gone.git"))
    # Released after the clones: only a fetch can see it.
    commit(seed, "v1.3.0", {"compose.yaml": COMPOSE.format(version="v1.3.0")})
    git(seed, "tag", "v1.3.0")
    git(seed, "push", "-q", str(origin), "main", "v1.3.0")
    plain = base / "plain"
    plain.mkdir()
    return {"origin": origin, "work": work, "offline": offline, "plain": plain, "seed": seed}


def inspect(repo, version, **kw):
    warnings = []
    result = inspect_release(subprocess_runner, str(repo), version, warn=warnings.append, **kw)
    return result, warnings


def test_fetch_finds_new_tag_and_reports_state(repos):
    result, warnings = inspect(repos["work"], "v1.3.0")
    assert warnings == []
    assert result["fetched"] is True
    assert result["version"] == "v1.3.0"
    assert result["commit"] == git(repos["seed"], "rev-parse", "v1.3.0^{commit}")
    assert result["tags"] == ["v1.3.0", "v1.3.0-rc.1", "v1.2.4", "v1.2.3", "v1.0.0"]
    assert result["current_version"] == "v1.2.4"
    assert result["current_commit"] == git(repos["work"], "rev-parse", "HEAD")
    assert result["at_target"] is False
    assert result["dirty"] == ["compose.yaml"]
    assert result["compose_services"] == {
        "api": {"image": "registry.example.test/app/api:v1.3.0", "build": True},
        "web": {"image": "registry.example.test/app/web:v1.3.0", "build": True},
        "postgres": {"image": "postgres:16", "build": False},
    }
    assert result["images"] == ["registry.example.test/app/api:v1.3.0", "registry.example.test/app/web:v1.3.0"]


def test_annotated_tag_is_peeled_and_at_target(repos):
    result, _unused = inspect(repos["offline"], "v1.2.3", fetch=False)
    assert result["commit"] == git(repos["seed"], "rev-parse", "v1.2.3^{commit}")
    assert result["at_target"] is True
    assert result["current_version"] == "v1.2.3"
    assert result["fetched"] is False
    assert result["dirty"] == []


def test_unreachable_origin_warns_and_uses_local_tags(repos):
    result, warnings = inspect(repos["offline"], "v1.2.4")
    assert result["fetched"] is False and result["version"] == "v1.2.4"
    assert len(warnings) == 1
    assert warnings[0].startswith("could not fetch from origin (")
    assert warnings[0].endswith("); using local tags")


def test_unreachable_origin_missing_tag(repos):
    with pytest.raises(GitReleaseError) as exc:
        inspect(repos["offline"], "v1.3.0")
    assert str(exc.value) == (
        "tag v1.3.0 not found in %s (origin unreachable, local tags only); newest tags: v1.3.0-rc.1, v1.2.4, v1.2.3"
        % repos["offline"]
    )


def test_missing_tag_after_fetch(repos):
    with pytest.raises(GitReleaseError, match=r"tag v9\.9\.9 not found in .* \(fetched from origin\); newest tags: "
                                              r"v1\.3\.0, v1\.3\.0-rc\.1, v1\.2\.4$"):
        inspect(repos["work"], "v9.9.9")


def test_missing_tag_fetch_disabled(repos):
    with pytest.raises(GitReleaseError, match=r"\(fetch disabled, local tags only\)"):
        inspect(repos["offline"], "v9.9.9", fetch=False)


def test_compose_file_missing_at_tag(repos):
    with pytest.raises(GitReleaseError, match=r"compose file compose\.yaml does not exist at v1\.0\.0"):
        inspect(repos["work"], "v1.0.0", fetch=False)


def test_other_compose_file(repos):
    with pytest.raises(GitReleaseError, match=r"README at v1\.2\.3: "):
        inspect(repos["work"], "v1.2.3", fetch=False, compose_file="README")


@pytest.mark.parametrize("version", ["v1.2.3;touch /tmp/x", "1.2.3", "v1.2", "v01.2.3", "--upload-pack=x", ""])
def test_invalid_version_never_reaches_git(version, tmp_path):
    calls = []

    def runner(argv, timeout=None):
        calls.append(argv)
        return 0, "", ""

    with pytest.raises(GitReleaseError, match=r"^invalid version '.*': expected a release tag like v1\.2\.3$"):
        inspect_release(runner, str(tmp_path), version)
    assert calls == []


def test_not_a_work_tree(repos):
    with pytest.raises(GitReleaseError, match="is not a git work tree"):
        inspect(repos["plain"], "v1.2.3")
    with pytest.raises(GitReleaseError, match="is not a git work tree"):
        inspect(repos["origin"], "v1.2.3")
    with pytest.raises(GitReleaseError, match="is not a directory"):
        inspect(repos["plain"] / "missing", "v1.2.3")


@pytest.mark.parametrize("remote, ok", [("origin", True), ("upstream-2", True), ("--upload-pack=x", False),
                                        ("-o", False), ("a b", False), ("../x", False), ("", False)])
def test_validate_remote(remote, ok):
    if ok:
        assert validate_remote(remote) == remote
    else:
        with pytest.raises(GitReleaseError, match="invalid remote"):
            validate_remote(remote)


@pytest.mark.parametrize("path, ok", [("compose.yaml", True), ("deploy/compose.yml", True),
                                      ("/etc/passwd", False), ("../x.yml", False), ("a/../../b", False),
                                      ("-x", False), ("", False)])
def test_validate_compose_file(path, ok):
    if ok:
        assert validate_compose_file(path) == path
    else:
        with pytest.raises(GitReleaseError):
            validate_compose_file(path)


@pytest.mark.parametrize(
    "output, expected",
    [
        ("", []),
        (" M a.yml\x00", ["a.yml"]),
        ("M  b.txt\x00 M c d.txt\x00", ["b.txt", "c d.txt"]),
        ("R  new.yml\x00old.yml\x00 D gone\x00", ["new.yml", "gone"]),
    ],
)
def test_parse_porcelain_z(output, expected):
    assert parse_porcelain_z(output) == expected


@pytest.mark.parametrize(
    "stderr, expected",
    [
        ("fatal: '/x/gone.git' does not appear to be a git repository\nfatal: Could not read from remote "
         "repository.\n", "'/x/gone.git' does not appear to be a git repository"),
        ("", "no error output"),
        ("warning: x\nerror: boom\n", "boom"),
        ("fatal: " + "z" * 300, "z" * 117 + "..."),
    ],
)
def test_short_reason(stderr, expected):
    assert short_reason(stderr) == expected


@pytest.mark.functional
def test_module_via_ansible(repos, ansible_module):
    res = ansible_module("git_release", {"repo": str(repos["offline"]), "version": "v1.2.4"}, check=True)
    assert res.get("failed") is not True, res
    assert res["changed"] is False and res["fetched"] is False
    assert res["version"] == "v1.2.4" and res["current_version"] == "v1.2.3"
    assert any(w.startswith("could not fetch from origin (") for w in res["warnings"])
    res = ansible_module("git_release", {"repo": str(repos["work"]), "version": "v1.3.0", "fetch_timeout": 20})
    assert res.get("failed") is not True, res
    assert res["fetched"] is True and res["tags"][0] == "v1.3.0" and res["dirty"] == ["compose.yaml"]
    assert res["images"] == ["registry.example.test/app/api:v1.3.0", "registry.example.test/app/web:v1.3.0"]
    res = ansible_module("git_release", {"repo": str(repos["work"]), "version": "v1.2.3;touch /tmp/x"})
    assert res["failed"] is True
    assert res["msg"] == "invalid version 'v1.2.3;touch /tmp/x': expected a release tag like v1.2.3"
    res = ansible_module("git_release", {"repo": str(repos["offline"]), "version": "v7.0.0", "fetch": False})
    assert res["failed"] is True and "(fetch disabled, local tags only); newest tags: v1.3.0-rc.1" in res["msg"]


def test_fetch_timeout_falls_back_to_local_tags(repos, tmp_path):
    slow = tmp_path / "slow"
    git(tmp_path, "clone", "-q", str(repos["origin"]), str(slow))
    # upload-pack that hangs: git runs it through the shell with the repository path appended.
    git(slow, "config", "remote.origin.uploadpack", "sleep 3; true")
    result, warnings = inspect(slow, "v1.2.4", fetch_timeout=1)
    assert result["fetched"] is False
    assert warnings == ["could not fetch from origin (timed out after 1s); using local tags"]


@pytest.mark.functional
def test_module_checks_out_the_proved_release_and_refuses_a_moved_tag(repos, tmp_path, ansible_module):
    work = tmp_path / "co"
    git(tmp_path, "clone", "-q", str(repos["origin"]), str(work))
    git(work, "checkout", "-q", "v1.2.4")
    args = {"repo": str(work), "version": "v1.2.3", "fetch": False, "state": "checked_out"}
    v123 = git(repos["seed"], "rev-parse", "v1.2.3^{commit}")
    res = ansible_module("git_release", args, check=True)
    assert res["changed"] is True and git(work, "rev-parse", "HEAD") != v123
    # The tag was proved at another commit: refused, and the work tree stays where it was.
    res = ansible_module("git_release", dict(args, commit="0" * 40))
    assert res["failed"] is True
    assert res["msg"] == (
        f"tag v1.2.3 now points to {v123[:12]}, not to 000000000000 as when it was proved; nothing was checked out"
    )
    assert git(work, "rev-parse", "HEAD") == git(repos["seed"], "rev-parse", "v1.2.4^{commit}")
    res = ansible_module("git_release", dict(args, commit=v123))
    assert res["changed"] is True and res["current_commit"] == v123 == git(work, "rev-parse", "HEAD")
    assert res["at_target"] is False and res["current_version"] == "v1.2.4"
    assert ansible_module("git_release", dict(args, commit=v123))["changed"] is False
    # Local changes the checkout would overwrite: git's own reason, and nothing checked out.
    (work / "compose.yaml").write_text("services: {api: {image: hacked}}\n")
    res = ansible_module("git_release", dict(args, version="v1.2.4"))
    assert res["failed"] is True and res["msg"].startswith(f"cannot check out v1.2.4 in {work}: Your local changes")
    assert git(work, "rev-parse", "HEAD") == v123


def test_no_version_is_the_release_the_work_tree_is_at(repos):
    # offline is at v1.2.3, which the tags latest and v1.2 name too: only release tags count.
    result, _unused = inspect(repos["offline"], None, fetch=False)
    assert (result["version"], result["at_target"], result["current_version"]) == ("v1.2.3", True, "v1.2.3")
    assert result["compose_services"]["api"]["image"] == "registry.example.test/app/api:v1.2.3"


def test_no_version_on_a_commit_no_release_names_is_refused(repos, tmp_path):
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(repos["origin"]), str(work))
    git(work, "checkout", "-q", "main")
    git(work, "commit", "-q", "--allow-empty", "-m", "not released")
    head = git(work, "rev-parse", "HEAD")
    refused = r"^the work tree .* is at commit %s, which no release tag names; " % head[:12]
    with pytest.raises(GitReleaseError, match=refused):
        inspect(work, None, fetch=False)
    with pytest.raises(GitReleaseError, match=r"^invalid version_pattern '\(': "):
        inspect(work, None, fetch=False, version_pattern="(")
