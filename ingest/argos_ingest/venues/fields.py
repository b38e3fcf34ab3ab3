"""Field checks shared by the Coinbase, OKX and Bybit parsers: each raises :class:`BadField` naming the field.

The parsers catch ``BadField`` and return a :class:`~argos.contract.Reject` whose reason is the message, so a
malformed payload reaches the dead letters with the reason instead of vanishing or killing the feed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from argos.contract import Reject

DECIMAL = re.compile(r"^[0-9]{1,30}(\.[0-9]{1,30})?$")
NONZERO = re.compile(r"[1-9]")
# Native symbols: BTCUSDT (Binance, Bybit), BTC-USD (Coinbase), BTC-USDT-SWAP / BTC-USD-250627 (OKX).
NATIVE_SYMBOL = re.compile(r"^[A-Z0-9]{1,20}(-[A-Z0-9]{1,20}){0,3}$")
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$")
RAW_LIMIT = 64 * 1024
_INT63 = (1 << 63) - 1


class BadField(ValueError):
    """A field failed validation; the message becomes the Reject reason."""


def reject(venue: str, reason: str, raw: Any) -> Reject:
    """A Reject carrying (a bounded copy of) the original payload."""
    if isinstance(raw, bytes | bytearray):
        text = raw.decode("utf-8", "replace")
    elif isinstance(raw, str):
        text = raw
    else:
        try:
            text = orjson.dumps(raw).decode()
        except TypeError:
            text = repr(raw)
    return Reject(venue=venue, reason=f"{venue}: {reason}", raw=text[:RAW_LIMIT])


def field(data: Mapping[str, Any], key: str) -> Any:
    if key not in data:
        raise BadField(f"field '{key}' is missing")
    return data[key]


def decimal(data: Mapping[str, Any], key: str) -> str:
    """A positive decimal string, kept exactly as sent."""
    value = field(data, key)
    if not isinstance(value, str) or not DECIMAL.match(value) or not NONZERO.search(value):
        raise BadField(f"field '{key}' is not a positive decimal string (got {value!r:.40})")
    return value


def int_id(data: Mapping[str, Any], key: str) -> int:
    """A non-negative integer id, sent as a number or a digit string."""
    value = field(data, key)
    if isinstance(value, str) and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT63:
        raise BadField(f"field '{key}' is not a non-negative integer id (got {value!r:.40})")
    return value


def epoch_ms_us(data: Mapping[str, Any], key: str) -> int:
    """Epoch milliseconds (number or digit string) → microseconds."""
    value = field(data, key)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadField(f"field '{key}' is not an epoch millisecond timestamp (got {value!r:.40})")
    return value * 1_000


def iso_us(data: Mapping[str, Any], key: str) -> int:
    """RFC 3339 time such as ``2014-11-07T08:19:27.028459Z`` → epoch microseconds (nanoseconds truncated)."""
    value = field(data, key)
    match = _ISO.match(value) if isinstance(value, str) else None
    if not match:
        raise BadField(f"field '{key}' is not an RFC 3339 time (got {value!r:.40})")
    whole, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        raise BadField(f"field '{key}' is not a valid time (got {value!r:.40})") from None
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    return int(moment.astimezone(UTC).timestamp()) * 1_000_000 + micros


def one_of(data: Mapping[str, Any], key: str, allowed: Mapping[str, Any]) -> Any:
    """The mapped value of an enumerated field (e.g. a side)."""
    value = field(data, key)
    if value not in allowed:
        raise BadField(f"field '{key}' is not one of {sorted(allowed)} (got {value!r:.40})")
    return allowed[value]


def native_symbol(value: Any, key: str) -> str:
    if not isinstance(value, str) or not NATIVE_SYMBOL.match(value):
        raise BadField(f"field '{key}' is not a venue symbol like BTC-USDT (got {value!r:.40})")
    return value


def string_id(data: Mapping[str, Any], key: str) -> int:
    """A trade id that may be a digit string or an opaque one (a UUID): digits as they are, else a stable
    63-bit hash, so it still keys de-duplication. Opaque ids carry no order and no gaps."""
    value = field(data, key)
    if isinstance(value, str) and value.isdigit() and len(value) <= 19 and int(value) <= _INT63:
        return int(value)
    if not isinstance(value, str) or not value or len(value) > 64:
        raise BadField(f"field '{key}' is not a trade id string (got {value!r:.40})")
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big") & _INT63
