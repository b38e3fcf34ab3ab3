"""Test support shipped with the package: a local fake Binance for tests, benchmarks and fault injection."""

from argos_testkit.fake_binance import FakeBinance, Fault

__all__ = ["FakeBinance", "Fault"]
