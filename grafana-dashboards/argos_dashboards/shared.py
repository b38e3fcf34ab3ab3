"""What every panel shares: the colours, the ClickHouse datasource and the dashboard's variables."""

from __future__ import annotations

from argos_dashboards.model import Variable

# Traders' colours (the usual exchange palette): taker buys green, taker sells red.
BUY = "#26a69a"
SELL = "#ef5350"
GOLD = "#f0b90b"
BLUE = "#42a5f5"
ORANGE = "#ff9800"
GREY = "#5c6370"
TEXT = "#eaecef"
PURPLE = "#ab47bc"

DATASOURCE_TYPE = "grafana-clickhouse-datasource"
DATASOURCE_UID = "argos-clickhouse"
PROFILE_LEVELS = 40
VALUE_AREA_SHARE = 0.7

# The variables' filter, shared by every panel that reads market data.
SYMBOL_FILTER = "symbol IN (${symbol:singlequote}) AND market IN (${market:singlequote})"

VARIABLES = (
    Variable(
        "market",
        "Market",
        "SELECT DISTINCT market FROM {db}.candles_1m WHERE $__timeFilter(minute) ORDER BY market",
        multi=False,
    ),
    Variable(
        "symbol",
        "Symbol",
        "SELECT DISTINCT symbol FROM {db}.candles_1m WHERE $__timeFilter(minute) ORDER BY symbol",
        multi=True,
    ),
)
