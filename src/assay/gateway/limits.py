"""Rate limits per key and per tenant: requests and tokens per minute.

Fixed one-minute windows, counted in-process by default or in Redis when
``ASSAY_REDIS_URL`` is set (so several gateway processes share one budget).
Tokens are charged after the answer (the count is known only then); a scope
that has spent its token budget is refused until the window ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from assay.errors import AssayError, StoreError

__all__ = ["InProcessLimiter", "Limit", "RateLimitedError", "RateLimiter", "RedisLimiter", "make_limiter"]

WINDOW_S = 60


class RateLimitedError(AssayError):
    """Too many requests or tokens this minute (429 with Retry-After)."""

    status = 429
    title = "Rate limit reached"
    default_hint = "Wait for the number of seconds in Retry-After, or ask for a higher limit."

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """One budget: ``scope`` is e.g. ``key:<id>`` or ``tenant:<name>``; None means unlimited."""

    scope: str
    rpm: int | None
    tpm: int | None


class RateLimiter(Protocol):
    async def admit(self, limits: list[Limit]) -> None:
        """Count one request against every limit, or raise :class:`RateLimitedError`."""
        ...

    async def charge(self, limits: list[Limit], tokens: int) -> None:
        """Add ``tokens`` used by an answered request."""
        ...

    async def aclose(self) -> None: ...


def _window(now: float) -> tuple[int, int]:
    start = int(now // WINDOW_S) * WINDOW_S
    return start, max(1, start + WINDOW_S - int(now))


def _check(limit: Limit, requests: int, tokens: int, retry: int) -> None:
    if limit.rpm is not None and requests > limit.rpm:
        raise RateLimitedError(
            f"Rate limit reached for {limit.scope}: {limit.rpm} requests per minute.", retry_after=retry
        )
    if limit.tpm is not None and tokens >= limit.tpm:
        raise RateLimitedError(
            f"Rate limit reached for {limit.scope}: {limit.tpm} tokens per minute.", retry_after=retry
        )


class InProcessLimiter:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], list[int]] = {}

    def _slot(self, scope: str, window: int) -> list[int]:
        slot = self._counts.get((scope, window))
        if slot is None:
            for old in [k for k in self._counts if k[1] < window]:
                del self._counts[old]
            slot = self._counts[(scope, window)] = [0, 0]
        return slot

    async def admit(self, limits: list[Limit]) -> None:
        window, retry = _window(time.time())
        active = [lim for lim in limits if lim.rpm is not None or lim.tpm is not None]
        for lim in active:
            slot = self._slot(lim.scope, window)
            _check(lim, slot[0] + 1, slot[1], retry)
        for lim in active:
            self._slot(lim.scope, window)[0] += 1

    async def charge(self, limits: list[Limit], tokens: int) -> None:
        window, _ = _window(time.time())
        for lim in limits:
            if lim.tpm is not None:
                self._slot(lim.scope, window)[1] += tokens

    async def aclose(self) -> None:
        return None


# Checks every scope and counts the request only if all of them admit it, in one atomic step:
# a refused request spends nothing, in any scope, whichever gateway process sent it.
# KEYS: per scope its ``:req`` then its ``:tok`` key. ARGV: the expiry, then per scope rpm, tpm
# (-1: unlimited). Returns {admitted (1/0), then per scope the request count including this
# one and the tokens spent}; the same rules as :func:`_check`.
_ADMIT_LUA = """
local n = #KEYS / 2
local admitted = 1
local out = {0}
for i = 1, n do
  local requests = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0') + 1
  local tokens = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  local rpm, tpm = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  if (rpm >= 0 and requests > rpm) or (tpm >= 0 and tokens >= tpm) then
    admitted = 0
  end
  out[2 * i], out[2 * i + 1] = requests, tokens
end
if admitted == 1 then
  for i = 1, n do
    redis.call('INCR', KEYS[2 * i - 1])
    redis.call('EXPIRE', KEYS[2 * i - 1], ARGV[1])
  end
end
out[1] = admitted
return out
"""


class RedisLimiter:
    """Shared windows in Redis: ``assay:rl:<scope>:<window>:{req,tok}`` with a 2-minute expiry."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url)
        self._admit = self._redis.register_script(_ADMIT_LUA)

    async def admit(self, limits: list[Limit]) -> None:
        import redis

        window, retry = _window(time.time())
        active = [lim for lim in limits if lim.rpm is not None or lim.tpm is not None]
        if not active:
            return
        keys: list[str] = []
        args: list[int] = [2 * WINDOW_S]
        for lim in active:
            base = f"assay:rl:{lim.scope}:{window}"
            keys += [base + ":req", base + ":tok"]
            args += [-1 if lim.rpm is None else lim.rpm, -1 if lim.tpm is None else lim.tpm]
        try:
            results = [int(v) for v in await self._admit(keys=keys, args=args)]
        except redis.RedisError as exc:
            raise StoreError(
                f"the rate-limit store (Redis) is unavailable: {exc}",
                hint="Check ASSAY_REDIS_URL and that redis-server is running.",
            ) from exc
        if results[0]:
            return
        for i, lim in enumerate(active):
            _check(lim, results[2 * i + 1], results[2 * i + 2], retry)
        raise RateLimitedError("Rate limit reached.", retry_after=retry)  # not reached: same rules

    async def charge(self, limits: list[Limit], tokens: int) -> None:
        import redis

        window, _ = _window(time.time())
        try:
            pipe = self._redis.pipeline(transaction=False)
            for lim in limits:
                if lim.tpm is not None:
                    key = f"assay:rl:{lim.scope}:{window}:tok"
                    pipe.incrby(key, tokens)
                    pipe.expire(key, 2 * WINDOW_S)
            await pipe.execute()
        except redis.RedisError:
            return  # the request was answered; a missed charge only loosens the next check

    async def aclose(self) -> None:
        await self._redis.aclose()


def make_limiter(redis_url: str | None) -> RateLimiter:
    return RedisLimiter(redis_url) if redis_url else InProcessLimiter()
