import pytest

from argos.settings import ConfigError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for key in list(__import__("os").environ):
        if key.startswith("ARGOS_"):
            monkeypatch.delenv(key)


def test_defaults_are_the_embedded_default(tmp_path):
    s = load_settings(data_dir=tmp_path)
    assert s.embedded and s.clickhouse_url == f"chdb://{tmp_path / 'clickhouse'}"
    assert s.ingest.symbols == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


def test_env_nested_keys_and_symbol_lists(monkeypatch):
    monkeypatch.setenv("ARGOS_INGEST__SYMBOLS", "btcusdt, ethusdt")
    monkeypatch.setenv("ARGOS_KAFKA__PARTITIONS", "6")
    monkeypatch.setenv("ARGOS_CLICKHOUSE__URL", "http://ch:8123")
    s = load_settings()
    assert s.ingest.symbols == ["BTCUSDT", "ETHUSDT"] and s.kafka.partitions == 6 and not s.embedded


def test_yaml_file_below_env(tmp_path, monkeypatch):
    cfg = tmp_path / "argos.yaml"
    cfg.write_text("whale_threshold_usd: 50000\nwhale_thresholds: {BTCUSDT: 250000}\nkafka: {topic: t1}\n")
    monkeypatch.setenv("ARGOS_KAFKA__TOPIC", "t2")
    s = load_settings(cfg)
    assert s.whale_threshold("BTCUSDT") == 250000 and s.whale_threshold("ETHUSDT") == 50000
    assert s.kafka.topic == "t2"


def test_errors_name_the_key_and_the_fix(monkeypatch):
    monkeypatch.setenv("ARGOS_KAFKA__PARTITIONS", "many")
    with pytest.raises(ConfigError) as err:
        load_settings(ingest={"symbols": "btc/usdt"})
    text = str(err.value)
    assert "kafka.partitions" in text and "ARGOS_KAFKA__PARTITIONS" in text and "'many'" in text
    assert "ingest.symbols" in text and "BTC/USDT" in text and "Fix:" in text


def test_unknown_key_is_refused(tmp_path, monkeypatch):
    cfg = tmp_path / "argos.yaml"
    cfg.write_text("kafka: {bootstrapp: x}\n")
    with pytest.raises(ConfigError, match=r"kafka.bootstrapp.*not an Argos setting"):
        load_settings(cfg)


def test_unreadable_yaml_says_so(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml")


def test_mappings_from_env(monkeypatch):
    monkeypatch.setenv("ARGOS_WHALE_THRESHOLDS", "BTCUSDT=100000,ETHUSDT=40000")
    monkeypatch.setenv("ARGOS_SPARK__CONF", '{"spark.ui.enabled": "false"}')
    s = load_settings()
    assert s.whale_thresholds == {"BTCUSDT": 100000, "ETHUSDT": 40000}
    assert s.spark.conf == {"spark.ui.enabled": "false"}
