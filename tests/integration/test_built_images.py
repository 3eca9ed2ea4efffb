"""A service built from source with no `image:` in its compose file, the most common shape: compose names its
image <project>-<service>, the same name for every release, so a checkout of an older tag alone leaves the
newer build running. The collection keeps each release's build as <project>-<service>:<version> and points
the service at the release's own build before the restart: a rollback runs the rolled-back code.

The staging app's chat-service stands in for such a service: tags <version>-plain are the staging releases
with chat-service's `image:` line removed (v1.2.4's chat fails half of its requests)."""

from __future__ import annotations

import subprocess

import pytest


def git(stack, *args: str) -> str:
    return subprocess.run(["git", "-C", str(stack.app_dir), *args], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def plain_release(stack, version: str) -> str:
    """Tag <version>-plain: the release with chat-service built and named by compose (no `image:`)."""
    tag = f"{version}-plain"
    head = git(stack, "rev-parse", "HEAD")
    git(stack, "checkout", "--quiet", "--detach", f"refs/tags/{version}")
    compose = stack.app_dir / "docker-compose.prod.yml"
    text = compose.read_text().replace(f"    image: mysaas/chat-service:{version}\n", "")
    compose.write_text(text.replace(f"APP_VERSION: {version}\n", f"APP_VERSION: {tag}\n"))
    git(stack, "-c", "user.name=test", "-c", "user.email=test@example.test", "commit", "--quiet", "-am", tag)
    git(stack, "tag", tag)
    git(stack, "push", "--quiet", "origin", f"refs/tags/{tag}")
    git(stack, "checkout", "--quiet", "--detach", head)
    return tag


def image_id(ref: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def running_image(stack, service: str) -> str:
    container, _started = stack.containers()[service]
    return subprocess.run(["docker", "inspect", "--format", "{{.Image}}", container], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


@pytest.fixture(scope="module")
def releases(stack):
    good, bad = plain_release(stack, "v1.2.3"), plain_release(stack, "v1.2.4")
    yield good, bad
    # The release builds, and the <project>-chat-service (latest) tag the staged restart gave one of them.
    for tag in (good, bad, "latest"):
        subprocess.run(["docker", "image", "rm", "--force", f"{stack.project}-chat-service:{tag}"], capture_output=True,
                       check=False)  # fmt: skip


def test_a_rollback_runs_the_rolled_back_releases_own_build(stack, releases):
    good, bad = releases
    assert stack.playbook("deploy", version=good).rc == 0
    built_good = image_id(f"{stack.project}-chat-service:{good}")
    assert running_image(stack, "chat-service") == built_good

    stack.playbook("deploy", version=bad, deploy_fail_on_verify=False)
    built_bad = image_id(f"{stack.project}-chat-service:{bad}")
    assert built_bad != built_good
    assert running_image(stack, "chat-service") == built_bad

    run = stack.playbook("procedure_a", version=good)
    assert run.rc == 0, run.output[-3000:]
    # The good release's own build runs again, not the bad one under the same compose name.
    assert running_image(stack, "chat-service") == built_good
    assert image_id(f"{stack.project}-chat-service") == built_good
