"""REST calls of the live feed: JSON lists fetched with retries, backoff and the venue's ``Retry-After``."""

from __future__ import annotations

import asyncio
import logging
import random
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


async def get_json_list(http: aiohttp.ClientSession, url: str, params: dict[str, str], *, attempts: int,
                        timeout: float, backoff_initial: float, backoff_max: float, max_retry_after: float,
                        on_rate_limit: Callable[[], None] = lambda: None,
                        unwrap: Callable[[Any], list[Any] | None] | None = None) -> list[Any] | None:
    """GET a JSON list (``unwrap`` takes it out of a venue's envelope); honour 429/418 ``Retry-After``, retry
    5xx and network errors; None when it fails."""
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    for attempt in range(attempts):
        delay = backoff_delay(attempt, backoff_initial, backoff_max)
        try:
            async with http.get(url, params=params, timeout=client_timeout) as resp:
                body = await resp.read()
                if resp.status in (429, 418):
                    on_rate_limit()
                    delay = retry_after(resp.headers.get("Retry-After"), delay, max_retry_after)
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
