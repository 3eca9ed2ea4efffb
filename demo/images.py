#!/usr/bin/env python3
"""Build the images of every staging release once, for every stack, test and drill of a run to share.

    python3 demo/images.py [--release v1.2.3 ...]

The releases come from demo/app through releases.py, in a throwaway repository; each tag's tree is
exported with `git archive` and built with `docker compose build`, which tags the images as the
release's compose file names them (mysaas/<service>:<release>). Docker's build cache makes a run with
nothing changed take seconds, and rebuilds what did change: a machine that kept the images of an
earlier checkout never runs old code under a release's tag, and the images a rebuild left without a
tag are removed. The collection's preflight then finds every image present and builds nothing while a
test waits.
"""

from __future__ import annotations

import argparse
import io
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import time

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import releases


def image_ids(names: list[str]) -> set[str]:
    """Ids of those of `names` that exist."""
    ids = set()
    for name in names:
        proc = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", name],
                              capture_output=True, text=True, check=False)  # fmt: skip
        if proc.returncode == 0:
            ids.add(proc.stdout.strip())
    return ids


def build_release(repo: pathlib.Path, tag: str, work: pathlib.Path) -> set[str]:
    """Build `tag`'s images; return the ids its tags pointed to before, now replaced."""
    tree = work / tag
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", tag], capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    compose = tree / releases.COMPOSE_FILE
    names = sorted(
        {spec["image"] for spec in yaml.safe_load(compose.read_text())["services"].values() if "image" in spec}
    )
    before = image_ids(names)
    argv = ["docker", "compose", "--project-name", "runbook-images", "--project-directory", str(tree),
            "--file", str(compose), "build", "--quiet"]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise releases.ReleaseError(f"building {tag} failed: {(proc.stderr or proc.stdout).strip()[-800:]}")
    return before - image_ids(names)


def remove_untagged(ids: set[str]) -> None:
    """Remove the images a rebuild left without a tag; one a container still uses stays."""
    for image_id in sorted(ids):
        tags = subprocess.run(["docker", "image", "inspect", "--format", "{{len .RepoTags}}", image_id],
                              capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
        if tags == "0":
            subprocess.run(["docker", "image", "rm", image_id], capture_output=True, check=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", action="append", choices=releases.TAGS,
                        help="build only this release (repeatable; default: every release)")  # fmt: skip
    args = parser.parse_args(argv)
    tags = args.release or list(releases.TAGS)
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="runbook-images-") as tmp:
            work = pathlib.Path(tmp)
            repo = work / "repo"
            releases.build(repo, work / "origin.git", releases.TAGS[0])
            replaced = set()
            for tag in tags:
                replaced |= build_release(repo, tag, work)
            remove_untagged(replaced)
    except (releases.ReleaseError, OSError, subprocess.CalledProcessError) as exc:
        print(f"images: error: {exc}", file=sys.stderr)
        return 1
    print(f"images: {', '.join(tags)} built in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
