"""REST calls of the live feed: JSON lists fetched with retries, backoff and the venue's ``Retry-After``.

Every market of one process on the same REST host shares that host's :class:`RestGate` (one IP, one budget;
:class:`RestGates` hands them out): a request waits for weight in the host's per-minute budget, and after an
HTTP 429 (``Retry-After``) or 418 (an IP ban) no request to the host leaves until that time is over — sending
on after a 429 earns a ban, retrying during a ban only lengthens it. A pause longer than the caller will wait
fails the request without sending it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

log = logging.getLogger(__name__)


def backoff_delay(attempt: int, initial: float, maximum: float, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: uniform in [½, 1] × min(maximum, initial × 2^attempt)."""
    return min(maximum, initial * 2 ** min(attempt, 64)) * (0.5 + rng() / 2)  # 2**1024 overflows a float


# Binance's longest IP ban (418 escalates from 2 minutes to 3 days): a Retry-After beyond it is not believed.
LONGEST_BAN_SECONDS = 3 * 24 * 3600


def retry_after(header: str | None, fallback: float) -> float:
    """Seconds a ``Retry-After`` header asks for (at most :data:`LONGEST_BAN_SECONDS`), else ``fallback``."""
    try:
        return min(LONGEST_BAN_SECONDS, max(0.0, float(header))) if header is not None else fallback
    except ValueError:
        return fallback


class RestGate:
    """One REST host's weight budget per minute and pause clock, shared by every market of the process on it."""

    def __init__(self, weight_per_minute: int = 6_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.weight_per_minute = weight_per_minute
        self.clock = clock
        self.window_start = clock()
        self.used = 0
        self.paused_until = 0.0

    async def admit(self, weight: int, max_wait: float = float("inf")) -> bool:
        """Wait until a request of ``weight`` fits the budget and no pause is running; False (at once) when the
        pause ends more than ``max_wait`` seconds from now."""
        while True:
            now = self.clock()
            if now < self.paused_until:
                if self.paused_until - now > max_wait:
                    return False
                await asyncio.sleep(self.paused_until - now)
                continue
            if now - self.window_start >= 60:
                self.window_start, self.used = now, 0
            if self.used + weight <= self.weight_per_minute:
                self.used += weight
                return True
            await asyncio.sleep(self.window_start + 60 - now)

    def observe(self, used_weight_header: str | None) -> None:
        """Follow the venue's own count (``X-MBX-USED-WEIGHT-1M``) when it is higher than ours."""
        if used_weight_header and used_weight_header.isdigit():
            self.used = max(self.used, int(used_weight_header))

    def pause(self, seconds: float, status: int) -> None:
        """Send nothing to this host for ``seconds``: a 429's ``Retry-After``, or a 418's ban."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)
        log.log(logging.ERROR if status == 418 else logging.WARNING, "REST: HTTP %d (%s) for %.0fs; every request "
                "to this host paused", status, "IP banned" if status == 418 else "rate limited", seconds)


class RestGates:
    """The process's :class:`RestGate` of each REST host (markets on one host share its budget and pauses)."""

    def __init__(self) -> None:
        self._gates: dict[str, RestGate] = {}

    def of(self, url: str, weight_per_minute: int) -> RestGate:
        return self._gates.setdefault(urlsplit(url).netloc, RestGate(weight_per_minute))


async def get_json_list(http: aiohttp.ClientSession, url: str, params: dict[str, str], *, attempts: int,
                        timeout: float, backoff_initial: float, backoff_max: float, max_retry_after: float,
                        on_rate_limit: Callable[[], None] = lambda: None,
                        unwrap: Callable[[Any], list[Any] | None] | None = None, gate: RestGate | None = None,
                        weight: int = 1, headers: dict[str, str] | None = None) -> list[Any] | None:
    """GET a JSON list (``unwrap`` takes it out of a venue's envelope); honour 429/418 ``Retry-After``, retry
    5xx and network errors; None when it fails. With a ``gate``, wait for budget and sit out its pauses first,
    and fail without sending when a pause lasts longer than ``max_retry_after``."""
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    for attempt in range(attempts):
        delay = backoff_delay(attempt, backoff_initial, backoff_max)
        if gate is not None and not await gate.admit(weight, max_wait=max_retry_after):
            log.error("REST %s not sent: its host is paused for longer than %.0fs (Retry-After or an IP ban)",
                      url, max_retry_after)
            return None
        try:
            async with http.get(url, params=params, headers=headers, timeout=client_timeout) as resp:
                body = await resp.read()
                if gate is not None:
                    gate.observe(resp.headers.get("X-MBX-USED-WEIGHT-1M"))
                if resp.status in (429, 418):
                    on_rate_limit()
                    wait = retry_after(resp.headers.get("Retry-After"), delay)
                    if gate is not None:
                        gate.pause(wait, resp.status)  # every market on this host waits, not only this request
                        continue
                    delay = min(wait, max_retry_after)
                    log.warning("REST %d from %s, waiting %.1fs (Retry-After)", resp.status, url, delay)
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
