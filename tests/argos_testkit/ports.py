"""Free loopback ports for the servers the tests start (Kafka, the demo's dashboard, fake venues)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

_GIVEN: set[int] = set()


def free_port() -> int:
    """A loopback port that is free now, below the kernel's ephemeral range and not given out before here.

    A port from ``bind(0)`` lies in the ephemeral range, where any outgoing connection on the machine may take it
    before the server binds it (or while a restarted broker is down); below that range only an explicit bind can.
    """
    linux = Path("/proc/sys/net/ipv4/ip_local_port_range")
    low, high = (int(n) for n in linux.read_text().split()) if linux.exists() else (49_152, 65_535)  # IANA's range
    outside = [*range(10_000, low), *range(high + 1, 65_536)]
    while True:
        port = random.choice(outside)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port
