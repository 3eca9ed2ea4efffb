"""Bearer sessions: token -> user id in redis, validated the same way by every service."""

import secrets

from common import config, db, redisconn

PREFIX = "session:"


def create(user_id):
    token = secrets.token_urlsafe(32)
    ttl = config.get_int("SESSION_TTL_SECONDS", 86400)
    redisconn.client().setex(PREFIX + token, ttl, str(user_id))
    return token


def user_id_from_header(header):
    """The user id for an `Authorization: Bearer <token>` header, or None.

    A session outlives its user when the database goes back to a backup taken before the user registered (a
    restore, Procedure B): the user is gone, its token is not. Such a session is ended here, and the caller is told
    to sign in (401), where every write in its name would break the foreign keys (a 500 for each)."""
    if not header or not header.startswith("Bearer "):
        return None
    token = header[len("Bearer "):].strip()
    if not token:
        return None
    value = redisconn.client().get(PREFIX + token)
    if not value:
        return None
    # Not timed: the figure of the database's transactions stays that of the requests' own work.
    with db.cursor(timed=False) as cur:
        cur.execute("SELECT 1 FROM users WHERE id = %s", (int(value),))
        known = cur.fetchone() is not None
    if not known:
        redisconn.client().delete(PREFIX + token)
        return None
    return int(value)
