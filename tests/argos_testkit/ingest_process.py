"""The fake exchange on a background thread, ``argos ingest`` as a subprocess, and a topic read back per symbol."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections import defaultdict
from pathlib import Path

from argos_testkit.fake_binance import FakeBinance


class FakeExchange:
    """The fake exchange on its own event loop in a background thread (ids advance while the ingest is down)."""

    def __init__(self, **kw) -> None:
        self.loop = asyncio.new_event_loop()
        self.fake = FakeBinance(**kw)
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def ingest(exchange: FakeExchange, data_dir: Path, symbols: list[str], seconds: float, **env: str
           ) -> subprocess.Popen[str]:
    """``argos ingest --source binance`` against the fake exchange for ``seconds`` (output piped)."""
    environ = {**{k: v for k, v in os.environ.items() if not k.startswith("ARGOS_")},
               "ARGOS_DATA_DIR": str(data_dir), "ARGOS_INGEST__HTTP_PORT": "0",
               "ARGOS_INGEST__BINANCE_WS_URL": exchange.fake.ws_url,
               "ARGOS_INGEST__BINANCE_REST_URL": exchange.fake.rest_url, **env}
    return subprocess.Popen([sys.executable, "-m", "argos", "ingest", "--source", "binance",
                             "--symbols", ",".join(symbols), "--seconds", str(seconds)],
                            env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def topic_ids(bootstrap: str, topic: str) -> dict[str, list[int]]:
    """Every trade id in the topic, per symbol, in topic order (duplicates kept)."""
    from kafka import KafkaConsumer, TopicPartition

    from argos.contract import decode_trade

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    ids: dict[str, list[int]] = defaultdict(list)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(parts)
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            for messages in consumer.poll(timeout_ms=2_000).values():
                for message in messages:
                    try:
                        trade = decode_trade(message.value)
                    except (ValueError, KeyError, TypeError):
                        continue
                    ids[trade.symbol].append(trade.trade_id)
    finally:
        consumer.close()
    return dict(ids)


def missing(ids: list[int]) -> int:
    """Ids absent between the first and the last one seen."""
    return max(ids) - min(ids) + 1 - len(set(ids))
