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


def test_a_deployment_started_by_hand_is_adopted_only_as_what_runs(stack, releases):
    """adopt.yml: a stack the collection did not deploy (git checkout, docker compose up --build by hand) and
    no history. A work tree moved to another tag is refused; at the running tag the release is verified and
    recorded as the history's first entry, nothing restarted; a second adoption is refused."""
    good, bad = releases
    git(stack, "checkout", "--quiet", "--detach", f"refs/tags/{good}")
    up = stack.compose("up", "--detach", "--wait", "--wait-timeout", "300", "--build", "--pull", "never", check=False)
    assert up.returncode == 0, up.stderr[-2000:]
    running = stack.containers()

    git(stack, "checkout", "--quiet", "--detach", f"refs/tags/{bad}")
    run = stack.playbook("adopt")
    assert run.rc != 0
    fatal = [line for line in run.output.splitlines() if line.startswith("fatal: ")]
    mismatch = f"auth-service runs mysaas/auth-service:v1.2.3, the compose files at {bad} name mysaas/auth-service:"
    assert fatal and f"what runs is not {bad}: " in fatal[-1] and mismatch + "v1.2.4" in fatal[-1], run.output[-3000:]
    assert stack.history() == [] and stack.containers() == running

    git(stack, "checkout", "--quiet", "--detach", f"refs/tags/{good}")
    run = stack.playbook("adopt")
    assert run.rc == 0, run.output[-3000:]
    (entry,) = stack.history()
    assert (entry["version"], entry["procedure"], entry["result"]) == (good, "adopt", "verified"), entry
    assert entry["commit"] == git(stack, "rev-parse", "HEAD")
    assert stack.containers() == running
    # The build that runs is kept as the release's own.
    assert image_id(f"{stack.project}-chat-service:{good}") == running_image(stack, "chat-service")

    run = stack.playbook("adopt")
    assert run.rc != 0 and "has 1 entries already" in run.output, run.output[-3000:]
    assert len(stack.history()) == 1 and stack.containers() == running


def test_a_rollback_runs_the_rolled_back_releases_own_build(stack, releases):
    """From the adopted release (the test above): a bad deploy, then Procedure A with no version goes back to
    the adopted release, the history's only known good one, on its own build."""
    good, bad = releases
    built_good = image_id(f"{stack.project}-chat-service:{good}")
    assert running_image(stack, "chat-service") == built_good

    stack.playbook("deploy", version=bad, deploy_fail_on_verify=False)
    built_bad = image_id(f"{stack.project}-chat-service:{bad}")
    assert built_bad != built_good
    assert running_image(stack, "chat-service") == built_bad

    run = stack.playbook("procedure_a")
    assert run.rc == 0, run.output[-3000:]
    assert stack.history()[-1]["version"] == good and stack.history()[-1]["action"] == "rollback"
    # The good release's own build runs again, not the bad one under the same compose name.
    assert running_image(stack, "chat-service") == built_good
    assert image_id(f"{stack.project}-chat-service") == built_good
