"""Bearer sessions: token -> user id in redis, validated the same way by every service."""

import secrets

from common import config, redisconn

PREFIX = "session:"


def create(user_id):
    token = secrets.token_urlsafe(32)
    ttl = config.get_int("SESSION_TTL_SECONDS", 86400)
    redisconn.client().setex(PREFIX + token, ttl, str(user_id))
    return token


def user_id_from_header(header):
    """The user id for an `Authorization: Bearer <token>` header, or None."""
    if not header or not header.startswith("Bearer "):
        return None
    token = header[len("Bearer "):].strip()
    if not token:
        return None
    value = redisconn.client().get(PREFIX + token)
    return int(value) if value else None
