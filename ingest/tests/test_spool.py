import orjson

from argos.contract import Reject
from argos.sinks import SpoolSink
from argos.synthetic import SyntheticMarket


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
