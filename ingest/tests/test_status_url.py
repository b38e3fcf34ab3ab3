"""`argos status` never prints a password that sits in the ClickHouse URL."""

from argos.status import redact_url


def test_password_in_url_is_masked():
    assert redact_url("https://argos:s3cret@ch.example:8443/") == "https://argos:***@ch.example:8443/"
    assert redact_url("http://ch:8123") == "http://ch:8123"
    assert redact_url("chdb:///data/clickhouse") == "chdb:///data/clickhouse"
