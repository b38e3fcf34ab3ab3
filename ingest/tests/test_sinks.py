import orjson

from argos.contract import Reject
from argos_ingest.sinks import SpoolSink
from argos_ingest.synthetic import SyntheticMarket


def test_spool_rotates_complete_files_atomically(tmp_path):
    sink = SpoolSink(tmp_path, max_records=100, max_seconds=3600)
    trades = SyntheticMarket(["BTCUSDT"], seed=1).trades(250, 0, 1_000_000)
    for t in trades:
        sink.send(t)
    files = sorted(tmp_path.glob("*.jsonl"))
    assert len(files) == 2 and not list(tmp_path.glob("*.tmp")) and len(list(tmp_path.iterdir())) == 2
    sink.send(Reject("binance", "bad", "x"))
    sink.close()
    lines = [orjson.loads(line) for f in sorted(tmp_path.glob("*.jsonl")) for line in f.read_bytes().splitlines()]
    assert [r["trade_id"] for r in lines[:250]] == [t.trade_id for t in trades]
    assert lines[-1]["reject"] == "bad"
    assert not list(tmp_path.glob(".*"))


def test_kafka_sink_without_a_broker_names_the_key_and_the_fix():
    import pytest

    from argos.settings import KafkaSettings
    from argos_ingest.sinks import KafkaSink
    from argos_testkit.ports import free_port

    with pytest.raises(ConnectionError, match=r"kafka.bootstrap='127.0.0.1:\d+'.*Fix: .*ARGOS_KAFKA__BOOTSTRAP"):
        KafkaSink(KafkaSettings(bootstrap=f"127.0.0.1:{free_port()}"))


def test_the_kafka_producer_checksums_batches_in_c():
    """kafka-python falls back to a pure-Python CRC-32C (~150 ns a byte here) without its ``crc32c`` extra."""
    from kafka.record import util

    assert util.crc32c_c is not None, "install kafka-python[crc32c] (pyproject's ingest extra lists it)"
