"""The third parties a SaaS calls (Stripe, the email provider, OpenAI), faked in staging.

A call succeeds unless staging was told to fail that provider: the Redis key `staging:fail:<provider>` holds the
share of calls to fail, in percent (`redis-cli set staging:fail:stripe 100`; delete it to heal). Every call is
counted in /metrics by provider and outcome, as the real integration would be."""

import random
import threading
import time

from common import metrics, redisconn

PROVIDERS = ("stripe", "email", "openai")
_cache = {}
_cache_lock = threading.Lock()
_CACHE_SECONDS = 1.0


class ProviderError(Exception):
    def __init__(self, provider):
        super().__init__(f"{provider} is unavailable")
        self.provider = provider


def failure_percent(provider):
    """The share of calls to fail, read from Redis at most once a second (0 when Redis does not say)."""
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(provider)
        if cached and now - cached[0] < _CACHE_SECONDS:
            return cached[1]
    try:
        raw = redisconn.client().get(f"staging:fail:{provider}")
        percent = min(100.0, max(0.0, float(raw))) if raw else 0.0
    except (redisconn.Error, ValueError):
        percent = 0.0
    with _cache_lock:
        _cache[provider] = (now, percent)
    return percent


def call(provider):
    """One call to `provider`; raises ProviderError when it fails."""
    failed = random.random() * 100 < failure_percent(provider)  # noqa: S311 - a fault's share, not a secret
    metrics.inc("mysaas_upstream_calls_total", provider=provider, outcome="error" if failed else "ok")
    if failed:
        raise ProviderError(provider)
