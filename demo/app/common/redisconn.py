"""Redis client shared by a service's threads (redis-py pools its connections itself)."""

import functools

import redis

from common import config

# Re-exported so services can catch redis failures without importing redis themselves.
Error = redis.RedisError


@functools.cache
def client():
    return redis.Redis(
        host=config.get("REDIS_HOST", "redis"),
        port=config.get_int("REDIS_PORT", 6379),
        socket_timeout=2,
        socket_connect_timeout=2,
        decode_responses=True,
    )


def ping():
    try:
        client().ping()
        return None
    except redis.RedisError as exc:
        return f"redis unavailable ({exc.__class__.__name__})"
