"""Per-client rate limits for the public endpoints: a token bucket per (endpoint group, client IP).

A caller over its budget gets 429 with ``Retry-After`` (whole seconds until one request is allowed again);
nobody else is slowed down, because the check is a dictionary look-up and nothing is queued. The buckets
live in the process: with several replicas each holds its own (the limit per IP is then at most replicas
times the configured one), which is enough to keep a burst from a few addresses off the database; a
distributed flood is the reverse proxy's job.

Memory is bounded: the least recently seen clients are forgotten first, which only ever errs on the side
of letting a forgotten client through.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # seconds, when refused
    remaining: int = 0


class RateLimiter:
    def __init__(
        self,
        *,
        rate_per_minute: float,
        burst: int,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_minute <= 0 or burst < 1:
            raise ValueError("rate and burst must be positive")
        self.rate = rate_per_minute / 60.0  # tokens per second
        self.burst = burst
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    def peek(self, group: str, client: str) -> Decision:
        """Whether ``client`` has budget left, without spending any: for limits that count only failures
        (the token endpoint), checked before the attempt and spent by ``check`` when it fails."""
        bucket = self._buckets.get((group, client))
        if bucket is None:
            return Decision(True, remaining=self.burst)
        tokens = min(float(self.burst), bucket.tokens + (self.clock() - bucket.updated) * self.rate)
        if tokens >= 1.0:
            return Decision(True, remaining=int(tokens))
        return Decision(False, retry_after=max(1, math.ceil((1.0 - tokens) / self.rate)))

    def check(self, group: str, client: str) -> Decision:
        now = self.clock()
        key = (group, client)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), updated=now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Decision(True, remaining=int(bucket.tokens))
        wait = (1.0 - bucket.tokens) / self.rate
        return Decision(False, retry_after=max(1, math.ceil(wait)))

    def __len__(self) -> int:
        return len(self._buckets)
