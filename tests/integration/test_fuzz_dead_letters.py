"""10,000 hypothesis-fuzzed malformed messages through Kafka and the ETL: every one is a dead letter."""

from __future__ import annotations

import json
import re

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from argos.contract import MARKETS
from argos.settings import SYMBOL_PATTERN, KafkaSettings
from argos_ingest.sinks import KafkaSink
from argos_ingest.synthetic import SyntheticMarket

pytestmark = [pytest.mark.kafka, pytest.mark.fault]

VALID = orjson.loads(
    b'{"v":1,"venue":"binance","market":"spot","symbol":"BTCUSDT","trade_id":1,"price":"97000.5","qty":"0.1",'
    b'"is_buyer_maker":false,"trade_time":1764000000000000,"event_time":1764000000000100}'
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def broken_trade(draw) -> str:
    """A valid trade with one field made invalid (removed, mistyped or out of range)."""
    record = dict(VALID)
    field = draw(st.sampled_from(sorted(record)))
    bad = {
        "v": st.sampled_from([0, 3, None]),  # wire v1 and v2 are both valid
        "price": st.sampled_from(["0", "-1", "abc", "", "1e", None]) | st.integers(max_value=0),
        "qty": st.sampled_from(["0", "-0.5", "x", None]),
        "symbol": st.text(max_size=30).filter(lambda s: not re.fullmatch(SYMBOL_PATTERN, s)),
        "market": st.text(max_size=10).filter(lambda s: s not in MARKETS),
        "trade_id": st.sampled_from(["x", None, -1, 1.5]),
        "trade_time": st.sampled_from([0, 1764000000000, None, "now"]),
    }.get(field, st.just(None))
    value = draw(bad)
    if value is None:
        record.pop(field)
    else:
        record[field] = value
    return json.dumps(record)


malformed = st.one_of(
    st.text(max_size=200),  # anything at all
    st.text(max_size=200).map(lambda s: "{" + s),  # truncated / broken JSON
    json_values.map(json.dumps),  # JSON that is not a trade
    broken_trade(),
)


def fuzz_corpus(n: int) -> list[str]:
    corpus: list[str] = []

    @settings(max_examples=n // 50, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(malformed, min_size=50, max_size=50))
    def collect(batch: list[str]) -> None:
        corpus.extend(batch)

    collect()
    return corpus


def test_ten_thousand_fuzzed_messages_all_in_dead_letters(kafka_bootstrap, topic, etl):
    corpus = fuzz_corpus(10_000)
    assert len(corpus) >= 9_500
    sink = KafkaSink(KafkaSettings(bootstrap=kafka_bootstrap, topic=topic, partitions=3))
    for payload in corpus:
        sink.send_raw(payload.encode())
    trades = list(SyntheticMarket(["BTCUSDT"], seed=2).backlog(300, span_seconds=60))
    for t in trades:  # the query is still alive and accepting trades after the fuzz
        sink.send(t)
    sink.close()

    runner = etl(ARGOS_SPARK__SOURCE="kafka", ARGOS_KAFKA__BOOTSTRAP=kafka_bootstrap, ARGOS_KAFKA__TOPIC=topic)
    runner.start(idle_stop=6)
    assert runner.wait() == 0, runner.tail()

    dead = runner.query("SELECT raw, reason FROM argos.dead_letters")
    print(f"{len(corpus)} fuzzed messages -> {len(dead)} dead letters; reasons:\n"
          f"{dead['reason'].str.split(':').str[0].value_counts().head(8)}")
    assert sorted(dead["raw"]) == sorted(corpus), "every malformed message is a dead letter, raw and unchanged"
    assert dead["reason"].notna().all() and (dead["reason"].str.len() > 0).all()
    assert runner.query("SELECT count() AS n FROM argos.trades").iloc[0]["n"] == len(trades)
