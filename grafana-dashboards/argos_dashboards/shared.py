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

# The variables' filter, shared by every panel that reads one venue's market data.
SYMBOL_FILTER = (
    "symbol IN (${symbol:singlequote}) AND market IN (${market:singlequote}) AND venue IN (${venue:singlequote})"
)

# Across venues: one asset, spelled per venue (BTCUSDT, BTC-USD, BTC-USDT-SWAP, BTCUSD_PERP), dollar-quoted
# instruments only.
BASE_OF_SYMBOL = (
    # \z, not $, ends the pattern: a dollar sign would read as a Grafana variable
    "extract(symbol, '^([A-Z0-9]+?)-?(?:FDUSD|USDT|USDC|BUSD|TUSD|USD)(?:-SWAP|-[0-9]{6}|_PERP|_[0-9]{6})?\\\\z')"
)
# An instrument's kind, named alike on every venue whatever it calls its markets (Binance usdm/coinm, Bybit linear,
# OKX swap): spot, a dated future (BTCUSDT_250627, BTC-USD-250627) or a perpetual.
KIND_OF_INSTRUMENT = "multiIf(market = 'spot', 'spot', match(symbol, '[-_][0-9]{6}\\\\z'), 'future', 'perpetual')"
VENUE_FILTER = f"venue IN (${{venues:singlequote}}) AND {KIND_OF_INSTRUMENT} IN (${{kind:singlequote}})"
ASSET_FILTER = f"{BASE_OF_SYMBOL} IN (${{asset:singlequote}})"
# Venue colours (brand-like, told apart on a dark background); the whale radar draws one series each.
VENUE_COLORS = {
    "binance": ("Binance", "#f0b90b"), "coinbase": ("Coinbase", "#3d7bff"), "okx": ("OKX", "#e0e3e7"),
    "bybit": ("Bybit", "#26c6da"),
}

VARIABLES = (
    Variable(
        "market",
        "Market",
        "SELECT DISTINCT market FROM {db}.candles_1m WHERE $__timeFilter(minute) ORDER BY market",
        multi=False,
    ),
    Variable(
        "venue",
        "Venue",
        "SELECT DISTINCT venue FROM {db}.candles_1m WHERE $__timeFilter(minute) ORDER BY venue",
        multi=False,
        default="binance",
    ),
    Variable(
        "symbol",
        "Symbol",
        "SELECT DISTINCT symbol FROM {db}.candles_1m WHERE $__timeFilter(minute) AND venue IN (${venue:singlequote}) "
        "AND market IN (${market:singlequote}) ORDER BY symbol",
        multi=True,
    ),
    Variable(
        "venues",
        "Compare venues",
        "SELECT DISTINCT venue FROM {db}.candles_1m WHERE $__timeFilter(minute) ORDER BY venue",
        multi=True,
    ),
    Variable(
        "kind",
        "Instrument",
        f"SELECT DISTINCT {KIND_OF_INSTRUMENT} AS kind FROM {{db}}.candles_1m WHERE $__timeFilter(minute) "
        "AND venue IN (${venues:singlequote}) ORDER BY kind",
        multi=False,
        default="spot",
    ),
    Variable(
        "asset",
        "Asset",
        f"SELECT DISTINCT {BASE_OF_SYMBOL} AS asset FROM {{db}}.candles_1m WHERE $__timeFilter(minute) "
        f"AND {VENUE_FILTER} AND asset != '' ORDER BY asset",
        multi=False,
        default="BTC",
    ),
)
