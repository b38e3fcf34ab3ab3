"""A local fake Bybit v5: ``publicTrade.{symbol}`` on /spot or /linear and ``/v5/market/recent-trade``, misbehaving.

Subscribe with ``{"op":"subscribe","args":["publicTrade.BTCUSDT"]}`` (at most 10 args on spot); one push per
taker order carries its fills in ``data``; linear ids are UUIDs, spot ids long numbers. The client must send
``{"op":"ping"}`` or the connection is closed after ``idle_timeout`` seconds. REST returns only the latest trades
(no cursor), like Bybit's. Faults: ``FakeVenue`` (``skip`` leaves a hole the client cannot see).
"""

from __future__ import annotations

import time
import uuid

import orjson
from aiohttp import web

from argos_testkit.fake_venue import FakeConn, FakeVenue, Fill


class FakeBybit(FakeVenue):
    venue = "bybit"
    app_ping = True

    def settings_fields(self) -> dict[str, str]:
        """The ws base without the category: the client appends /spot or /linear."""
        return {"bybit_ws_url": f"{self.ws_url}/v5/public", "bybit_rest_url": self.rest_url}

    def trade_id(self, fill: Fill) -> str:
        if self.market == "linear":
            return str(uuid.UUID(fill.uid))
        return str(2_290_000_000_000_000_000 + fill.trade_id)

    def on_client_message(self, conn: FakeConn, message: str | bytes) -> list[str]:
        try:
            request = orjson.loads(message)
            op = request["op"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return [orjson.dumps({"success": False, "ret_msg": "error:request not json", "op": ""}).decode()]
        if op == "ping":
            self.pings += 1
            conn.last_ping = time.monotonic()
            if self.market == "spot":
                return [orjson.dumps({"success": True, "ret_msg": "pong", "conn_id": "fake", "op": "ping"}).decode()]
            return [orjson.dumps({"op": "pong", "args": [str(time.time_ns() // 1_000_000)],
                                  "conn_id": "fake"}).decode()]
        args = request.get("args") or []
        bad = op != "subscribe" or not all(isinstance(a, str) and a.startswith("publicTrade.") for a in args)
        if bad or (self.market == "spot" and len(args) > 10):
            return [orjson.dumps({"success": False, "ret_msg": f"error:handler not found or too many args ({op})",
                                  "conn_id": "fake", "op": op}).decode()]
        self.subscribe_requests.append(request)
        unknown = self.subscribe(conn, [a.split(".", 1)[1] for a in args])
        if unknown:
            return [orjson.dumps({"success": False, "ret_msg": f"error:symbol {unknown[0]} not found",
                                  "conn_id": "fake", "op": "subscribe"}).decode()]
        return [orjson.dumps({"success": True, "ret_msg": "subscribe", "conn_id": "fake", "op": "subscribe"}).decode()]

    def push(self, symbol: str, fills: list[Fill]) -> list[str]:
        data = [{"T": f.time_us // 1_000, "s": symbol, "S": "Sell" if f.taker_sells else "Buy", "v": f.qty,
                 "p": f.price, "L": "ZeroPlusTick", "i": self.trade_id(f), "BT": False, "seq": 7 * f.trade_id}
                for f in fills]
        return [orjson.dumps({"topic": f"publicTrade.{symbol}", "type": "snapshot",
                              "ts": time.time_ns() // 1_000_000, "data": data}).decode()]

    def rest_routes(self, app: web.Application) -> None:
        app.router.add_get("/v5/market/recent-trade", self._recent)

    async def _recent(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        cap = 60 if self.market == "spot" else 1000
        limit = min(int(request.query.get("limit", str(cap))), cap)
        fills = self.history.get(symbol, [])[-limit:][::-1]
        rows = [{"execId": self.trade_id(f), "symbol": symbol, "price": f.price, "size": f.qty,
                 "side": "Sell" if f.taker_sells else "Buy", "time": str(f.time_us // 1_000),
                 "isBlockTrade": False} for f in fills]
        return web.json_response({"retCode": 0, "retMsg": "OK",
                                  "result": {"category": self.market, "list": rows}})
