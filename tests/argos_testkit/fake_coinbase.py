"""A local fake Coinbase Exchange: the ``matches`` channel and ``GET /products/{id}/trades``, misbehaving.

Subscribe with ``{"type":"subscribe","product_ids":[...],"channels":["matches"]}`` within 5 s; the fake
answers ``subscriptions``, sends each product's ``last_match``, then one ``match`` per fill (``side`` is the
maker's). REST pages with ``after`` (older ids, newest first, ``limit`` ≤ 1000). Faults: ``FakeVenue``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from argos_testkit.fake_venue import FakeConn, FakeVenue, Fill


def _time(fill: Fill) -> str:
    moment = datetime.fromtimestamp(fill.time_us // 1_000_000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fill.time_us % 1_000_000:06d}Z"


def _maker_side(fill: Fill) -> str:
    return "buy" if fill.taker_sells else "sell"


class FakeCoinbase(FakeVenue):
    venue = "coinbase"

    def settings_fields(self) -> dict[str, str]:
        return {"coinbase_ws_url": self.ws_url, "coinbase_rest_url": self.rest_url}

    def match(self, symbol: str, fill: Fill, kind: str = "match") -> str:
        return orjson.dumps({
            "type": kind, "trade_id": fill.trade_id, "sequence": 10 * fill.trade_id,
            "maker_order_id": f"m-{fill.order}", "taker_order_id": f"t-{fill.order}", "time": _time(fill),
            "product_id": symbol, "size": fill.qty, "price": fill.price, "side": _maker_side(fill),
        }).decode()

    def on_client_message(self, conn: FakeConn, message: str | bytes) -> list[str]:
        try:
            request = orjson.loads(message)
            assert request["type"] == "subscribe" and "matches" in request["channels"]
            products = list(request["product_ids"])
        except (orjson.JSONDecodeError, KeyError, TypeError, AssertionError):
            return [orjson.dumps({"type": "error", "message": "Failed to subscribe",
                                  "reason": "malformed subscribe request"}).decode()]
        self.subscribe_requests.append(request)
        unknown = self.subscribe(conn, products)
        if unknown:
            return [orjson.dumps({"type": "error", "message": "Failed to subscribe",
                                  "reason": f"{unknown[0]} is not a valid product"}).decode()]
        replies = [orjson.dumps({"type": "subscriptions", "channels": [
            {"name": "matches", "product_ids": sorted(conn.symbols)}]}).decode()]
        replies += [self.match(s, self.history[s][-1], "last_match") for s in products if self.history[s]]
        return replies

    def push(self, symbol: str, fills: list[Fill]) -> list[str]:
        return [self.match(symbol, fill) for fill in fills]

    def rest_routes(self, app: web.Application) -> None:
        app.router.add_get("/products/{product_id}/trades", self._trades)

    async def _trades(self, request: web.Request) -> web.Response:
        """Rows ``{"time":..,"trade_id":..,"price":..,"size":..,"side":<maker side>}``, newest first."""
        symbol = request.match_info["product_id"]
        if symbol not in self.history:
            return web.json_response({"message": "NotFound"}, status=404)
        try:
            limit = int(request.query.get("limit", "1000"))
            after = int(request.query["after"]) if "after" in request.query else self.last_id(symbol) + 1
        except ValueError:
            return web.json_response({"message": "invalid pagination parameter"}, status=400)
        if not 1 <= limit <= 1000:
            return web.json_response({"message": "limit must be between 1 and 1000"}, status=400)
        fills = self.older_than(symbol, after, limit)
        rows: list[dict[str, Any]] = [{"time": _time(f), "trade_id": f.trade_id, "price": f.price, "size": f.qty,
                                       "side": _maker_side(f)} for f in fills]
        headers = {"CB-AFTER": str(fills[-1].trade_id)} if fills else {}
        return web.Response(body=orjson.dumps(rows), content_type="application/json", headers=headers)
