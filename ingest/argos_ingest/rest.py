"""REST calls of the live feed: JSON lists fetched with retries, backoff and the venue's ``Retry-After``.

Every market of one process shares one :class:`RestGate` (one IP, one budget): a request waits for weight
in a per-minute budget, and after an HTTP 418 (an IP ban) no request leaves until the ban is over — retrying
during a ban only lengthens it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

log = logging.getLogger(__name__)


def backoff_delay(attempt: int, initial: float, maximum: float, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: uniform in [½, 1] × min(maximum, initial × 2^attempt)."""
    return min(maximum, initial * 2**attempt) * (0.5 + rng() / 2)


def retry_after(header: str | None, fallback: float, cap: float) -> float:
    """Seconds a ``Retry-After`` header asks for (capped), else ``fallback``."""
    try:
        return min(cap, max(0.0, float(header))) if header is not None else fallback
    except ValueError:
        return fallback


class RestGate:
    """One REST weight budget per minute and one ban clock, shared by every market of the process."""

    def __init__(self, weight_per_minute: int = 6_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.weight_per_minute = weight_per_minute
        self.clock = clock
        self.window_start = clock()
        self.used = 0
        self.banned_until = 0.0

    async def admit(self, weight: int) -> None:
        """Wait until a request of ``weight`` fits the budget and no ban is running."""
        while True:
            now = self.clock()
            if now < self.banned_until:
                await asyncio.sleep(self.banned_until - now)
                continue
            if now - self.window_start >= 60:
                self.window_start, self.used = now, 0
            if self.used + weight <= self.weight_per_minute:
                self.used += weight
                return
            await asyncio.sleep(self.window_start + 60 - now)

    def observe(self, used_weight_header: str | None) -> None:
        """Follow the venue's own count (``X-MBX-USED-WEIGHT-1M``) when it is higher than ours."""
        if used_weight_header and used_weight_header.isdigit():
            self.used = max(self.used, int(used_weight_header))

    def ban(self, seconds: float) -> None:
        self.banned_until = max(self.banned_until, self.clock() + seconds)
        log.error("REST: IP banned (HTTP 418) for %.0fs; all REST traffic paused", seconds)


async def get_json_list(http: aiohttp.ClientSession, url: str, params: dict[str, str], *, attempts: int,
                        timeout: float, backoff_initial: float, backoff_max: float, max_retry_after: float,
                        on_rate_limit: Callable[[], None] = lambda: None,
                        unwrap: Callable[[Any], list[Any] | None] | None = None, gate: RestGate | None = None,
                        weight: int = 1) -> list[Any] | None:
    """GET a JSON list (``unwrap`` takes it out of a venue's envelope); honour 429/418 ``Retry-After``, retry
    5xx and network errors; None when it fails. With a ``gate``, wait for budget and sit out bans first."""
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    for attempt in range(attempts):
        delay = backoff_delay(attempt, backoff_initial, backoff_max)
        if gate is not None:
            await gate.admit(weight)
        try:
            async with http.get(url, params=params, timeout=client_timeout) as resp:
                body = await resp.read()
                if gate is not None:
                    gate.observe(resp.headers.get("X-MBX-USED-WEIGHT-1M"))
                if resp.status in (429, 418):
                    on_rate_limit()
                    delay = retry_after(resp.headers.get("Retry-After"), delay, max_retry_after)
                    log.warning("REST %d from %s, waiting %.1fs (Retry-After)", resp.status, url, delay)
                    if resp.status == 418 and gate is not None:
                        gate.ban(delay)  # every market waits, not only this request
                        continue
                elif resp.status >= 500:
                    log.warning("REST %d from %s", resp.status, url)
                elif resp.status != 200:
                    log.error("REST %d from %s: %s", resp.status, url, body[:300])
                    return None
                else:
                    data = orjson.loads(body)
                    if unwrap is not None:
                        return unwrap(data)
                    return data if isinstance(data, list) else None
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            log.warning("REST %s failed: %s", url, exc)
        await asyncio.sleep(delay)
    return None
