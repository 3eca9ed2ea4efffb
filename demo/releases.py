#!/usr/bin/env python3
"""Build the staging app's git repository: one commit and one annotated tag per release.

    python3 demo/releases.py --dest DIR [--origin ORIGIN_DIR] [--checkout v1.2.3]

v1.2.2 is demo/app as it is; every later release is a few exact text edits on top of the one
before, so `git log -p` reads like real commits:

    v1.2.2  good
    v1.2.3  good: /api/auth/me also returns created_at
    v1.2.4  bad: chat-service sends every second chat request to a replica that does not exist
            -> exactly half of the chat requests answer 500 (Procedure A); the proxy's configuration
            changes too (reloaded in place by a deploy or rollback, never restarted)
    v1.2.5  chat fixed, but billing-service now requires PAYMENT_PROVIDER_URL, which the
            compose file does not set -> it exits at startup and never gets healthy (Procedure C)
    v1.3.0  billing fixed; migration 0003 recreates the chat tables and loses every chat and
            message (Procedure B)

Author, committer and dates are fixed, so the same demo/app always gives the same commit hashes;
a rebuilt repository can therefore be pushed again to an existing origin.
"""

import argparse
import os
import pathlib
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

APP_SOURCE = pathlib.Path(__file__).resolve().parent / "app"
BASE_VERSION = "v1.2.2"
AUTHOR_NAME = "Staging Release Bot"
AUTHOR_EMAIL = "releases@staging.invalid"
COMPOSE_FILE = "docker-compose.prod.yml"
# Each app service's image tag and APP_VERSION name the release: 7 services, 2 mentions each.
VERSION_MENTIONS_IN_COMPOSE = 14
IGNORED_NAMES = {"__pycache__", ".pytest_cache", ".ruff_cache"}


class ReleaseError(Exception):
    pass


@dataclass
class Edit:
    """Replace `old` by `new` in `path`; `old` must occur exactly once (a new file when old is None)."""

    path: str
    old: str | None
    new: str

    def inverse(self):
        return Edit(self.path, self.new, self.old)


@dataclass
class Release:
    version: str
    date: str
    subject: str
    body: str
    edits: list = field(default_factory=list)


CHAT_REPLICA_EDITS = [
    Edit(
        "services/chat/app.py",
        '"""chat-service: a user\'s chats and their messages."""\n\n',
        '"""chat-service: a user\'s chats and their messages."""\n\nimport contextlib\nimport itertools\n\n',
    ),
    Edit(
        "services/chat/app.py",
        "from common import db, log, redisconn, sessions, startup, upstreams, web\n",
        "from common import config, db, log, redisconn, sessions, startup, upstreams, web\n",
    ),
    Edit(
        "services/chat/app.py",
        'def chat_db():\n    """The transaction every chat endpoint runs in."""\n    return db.cursor()\n',
        "# Chat traffic alternates between the primary and the read replica to spread the load.\n"
        "_turn = itertools.count()\n"
        "\n\n"
        "@contextlib.contextmanager\n"
        "def chat_db():\n"
        '    """The transaction every chat endpoint runs in."""\n'
        "    if next(_turn) % 2 == 0:\n"
        "        with db.cursor() as cur:\n"
        "            yield cur\n"
        "        return\n"
        '    conn = db.connect(port=config.get_int("DB_REPLICA_PORT", 5433))\n'
        "    try:\n"
        "        with conn, db.dict_cursor(conn) as cur:\n"
        "            yield cur\n"
        "    finally:\n"
        "        conn.close()\n",
    ),
]

CHAT_STORAGE_V2_MIGRATION = """\
-- Chat storage v2: chats track their last activity, messages carry a per-chat sequence number.
-- The v1 tables are replaced by the v2 layout; existing rows are to be copied over by the
-- backfill job (chat-backfill), which runs separately after the deploy.
DROP TABLE messages;
DROP TABLE chats;

CREATE TABLE chats (
    id bigserial PRIMARY KEY,
    owner_id bigint NOT NULL REFERENCES users (id),
    title text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chats_owner_idx ON chats (owner_id, last_activity_at DESC);

CREATE TABLE messages (
    id bigserial PRIMARY KEY,
    chat_id bigint NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    author_id bigint NOT NULL REFERENCES users (id),
    seq integer NOT NULL DEFAULT 0,
    body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_chat_idx ON messages (chat_id, id);
"""

RELEASES = [
    Release(
        "v1.2.2",
        "2025-03-03T10:00:00+00:00",
        "Release v1.2.2",
        "My-SaaS-Chat: auth, chat, billing, analytics, email worker, gateway and frontend.",
    ),
    Release(
        "v1.2.3",
        "2025-03-10T10:00:00+00:00",
        "Release v1.2.3: auth /me returns the account creation time",
        "The profile page wants to show 'member since'.",
        [
            Edit(
                "services/auth/app.py",
                '"SELECT id, email FROM users WHERE id = %s"',
                '"SELECT id, email, created_at FROM users WHERE id = %s"',
            ),
            Edit(
                "services/auth/app.py",
                'return 200, {"id": row["id"], "email": row["email"]}',
                'return 200, {"id": row["id"], "email": row["email"], "created_at": row["created_at"].isoformat()}',
            ),
        ],
    ),
    Release(
        "v1.2.4",
        "2025-03-17T10:00:00+00:00",
        "Release v1.2.4: chat-service reads and writes through the replica too",
        "Spread chat queries over the primary and the read replica (DB_REPLICA_PORT, default 5433).\n"
        "The proxy gives the gateway longer to answer, for the replica's slower queries.",
        [
            *CHAT_REPLICA_EDITS,
            Edit("proxy/haproxy.cfg", "    timeout server 30s\n", "    timeout server 45s\n"),
            Edit("proxy/haproxy.cfg", "X-Proxy-Config base\n", "X-Proxy-Config replica\n"),
        ],
    ),
    Release(
        "v1.2.5",
        "2025-03-24T10:00:00+00:00",
        "Release v1.2.5: chat back on the primary; billing gets the payment provider URL",
        "Revert the chat replica routing (half of the chat requests failed in v1.2.4).\n"
        "billing-service now needs PAYMENT_PROVIDER_URL to talk to the payment provider.",
        [
            *[edit.inverse() for edit in reversed(CHAT_REPLICA_EDITS)],
            Edit(
                "services/billing/app.py",
                '        "provider": config.get("PAYMENT_PROVIDER", "sandbox"),\n',
                '        "provider": config.get("PAYMENT_PROVIDER", "sandbox"),\n'
                '        "provider_url": config.require("PAYMENT_PROVIDER_URL"),\n',
            ),
        ],
    ),
    Release(
        "v1.3.0",
        "2025-03-31T10:00:00+00:00",
        "Release v1.3.0: chat storage v2",
        "Migration 0003 moves chats and messages to the v2 layout; chat-service keeps\n"
        "last_activity_at up to date. Set PAYMENT_PROVIDER_URL for billing-service.",
        [
            Edit(
                COMPOSE_FILE,
                "      PAYMENT_PROVIDER: sandbox\n",
                "      PAYMENT_PROVIDER: sandbox\n      PAYMENT_PROVIDER_URL: https://payments-sandbox.invalid/v1\n",
            ),
            Edit("migrations/0003_chat_storage_v2.sql", None, CHAT_STORAGE_V2_MIGRATION),
            Edit(
                "services/chat/app.py",
                "            row = cur.fetchone()\n        # Each message is screened",
                "            row = cur.fetchone()\n"
                '            cur.execute("UPDATE chats SET last_activity_at = now() WHERE id = %s", (chat_id,))\n'
                "        # Each message is screened",
            ),
        ],
    ),
]
TAGS = [release.version for release in RELEASES]


def git(repo, *args, env=None):
    cmd = ["git", "-C", str(repo), "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgSign=false",
           "-c", "tag.gpgSign=false", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise ReleaseError(f"git {args[0]} failed: {detail[-1] if detail else 'exit ' + str(result.returncode)}")
    return result.stdout


def existing_tags(repo):
    if not (repo / ".git").exists():
        return set()
    try:
        return set(git(repo, "tag", "--list").split())
    except ReleaseError:
        return set()


def copy_base_tree(dest):
    """demo/app into dest with normalised modes, so hashes do not depend on the checkout's umask."""
    for src in sorted(APP_SOURCE.rglob("*")):
        rel = src.relative_to(APP_SOURCE)
        if IGNORED_NAMES.intersection(rel.parts) or src.suffix == ".pyc":
            continue
        target = dest / rel
        if src.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o755)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            target.chmod(0o644)


def apply_edit(tree, edit, version):
    path = tree / edit.path
    if edit.old is None:
        if path.exists():
            raise ReleaseError(f"{version}: {edit.path} already exists")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(edit.new)
        path.chmod(0o644)
        return
    if edit.new is None:
        path.unlink()
        return
    text = path.read_text()
    count = text.count(edit.old)
    if count != 1:
        raise ReleaseError(f"{version}: edit of {edit.path} matches {count} times, not once: {edit.old[:60]!r}")
    path.write_text(text.replace(edit.old, edit.new))


def bump_version(tree, old, new):
    (tree / "VERSION").write_text(new + "\n")
    compose = tree / COMPOSE_FILE
    text = compose.read_text()
    count = text.count(old)
    if count != VERSION_MENTIONS_IN_COMPOSE:
        expected = VERSION_MENTIONS_IN_COMPOSE
        raise ReleaseError(f"{new}: {COMPOSE_FILE} mentions {old} {count} times, expected {expected}")
    compose.write_text(text.replace(old, new))


def commit_env(date):
    env = dict(os.environ)
    env.update({
        "GIT_AUTHOR_NAME": AUTHOR_NAME, "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL, "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": AUTHOR_NAME, "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL, "GIT_COMMITTER_DATE": date,
        "TZ": "UTC",
    })
    # A user's global git config must not change the objects (e.g. signing, templates).
    env["GIT_CONFIG_GLOBAL"] = os.devnull
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    return env


def build(dest, origin, checkout):
    if not APP_SOURCE.is_dir():
        raise ReleaseError(f"app source not found: {APP_SOURCE}")
    if dest.exists() and any(dest.iterdir()):
        raise ReleaseError(f"{dest} exists and is not an empty directory nor a repository with all release tags")
    dest.mkdir(parents=True, exist_ok=True)
    env0 = commit_env(RELEASES[0].date)
    git(dest, "init", "--quiet", "--initial-branch=main", env=env0)
    git(dest, "config", "advice.detachedHead", "false")
    copy_base_tree(dest)
    previous = None
    for release in RELEASES:
        for edit in release.edits:
            apply_edit(dest, edit, release.version)
        if previous:
            bump_version(dest, previous, release.version)
        elif (dest / "VERSION").read_text().strip() != release.version:
            raise ReleaseError(f"demo/app/VERSION is not {release.version}")
        env = commit_env(release.date)
        git(dest, "add", "--all", env=env)
        git(dest, "commit", "--quiet", "--no-verify", "-m", release.subject, "-m", release.body, env=env)
        git(dest, "tag", "--annotate", release.version, "-m", f"My-SaaS-Chat {release.version}", env=env)
        previous = release.version

    if origin.exists() and any(origin.iterdir()):
        try:
            bare = git(origin, "rev-parse", "--is-bare-repository").strip() == "true"
        except ReleaseError:
            bare = False
        if not bare:
            raise ReleaseError(f"origin {origin} exists and is not a bare git repository")
    else:
        origin.mkdir(parents=True, exist_ok=True)
        git(origin, "init", "--quiet", "--bare", "--initial-branch=main", env=env0)
    git(dest, "remote", "add", "origin", str(origin))
    try:
        git(dest, "push", "--quiet", "origin", "refs/heads/main:refs/heads/main", "refs/tags/*:refs/tags/*", env=env0)
    except ReleaseError as exc:
        raise ReleaseError(f"{origin} holds a different release history ({exc}); remove it or pass --origin") from None
    git(dest, "fetch", "--quiet", "origin", env=env0)
    git(dest, "branch", "--quiet", "--set-upstream-to=origin/main", "main")
    git(dest, "checkout", "--quiet", "--detach", checkout)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", required=True, type=pathlib.Path, help="work tree to create")
    parser.add_argument("--origin", type=pathlib.Path,
                        help="bare repository to push to (default: <parent of DEST>/origin.git)")
    parser.add_argument("--checkout", default="v1.2.3", choices=TAGS, help="tag left checked out (default v1.2.3)")
    args = parser.parse_args(argv)
    args.dest = args.dest.expanduser().absolute()
    args.origin = (args.origin or args.dest.parent / "origin.git").expanduser().absolute()
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        have = existing_tags(args.dest)
        if set(TAGS) <= have:
            print(f"releases: {args.dest} already has {', '.join(TAGS)}; nothing to do")
            return 0
        fresh = [p for p in (args.dest, args.origin) if not p.exists() or not any(p.iterdir())]
        try:
            build(args.dest, args.origin, args.checkout)
        except BaseException:
            # Leave no half-built repository behind: the next run would take it for a finished one.
            for path in fresh:
                shutil.rmtree(path, ignore_errors=True)
            raise
    except (ReleaseError, OSError) as exc:
        print(f"releases: error: {exc}", file=sys.stderr)
        return 1
    head = git(args.dest, "rev-parse", "--short", "HEAD").strip()
    print(f"releases: created {args.dest} with tags {', '.join(TAGS)}; "
          f"checked out {args.checkout} ({head}); origin {args.origin}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
