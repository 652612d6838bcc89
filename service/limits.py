"""Per-client rate limits, kept in each server process's memory.

With several gunicorn workers each keeps its own buckets, so the effective limit is
up to workers x the configured rate; that is enough to stop one client from
monopolizing the service, which is what the limit is for.
"""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """A token bucket per client: *per_minute* requests, refilled continuously."""

    def __init__(self, per_minute: float, burst: float | None = None, max_clients: int = 10_000) -> None:
        self.rate = per_minute / 60.0
        self.capacity = burst if burst is not None else max(per_minute / 6.0, 1.0)
        self.max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> float:
        """Take one token for *client*; return 0 if allowed, else seconds until it would be."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                if len(self._buckets) > self.max_clients:  # forget the stalest clients
                    for key in sorted(self._buckets, key=lambda k: self._buckets[k][1])[: self.max_clients // 10]:
                        del self._buckets[key]
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate
