"""A local fake OKX v5: the public ``trades`` channel (aggregated fills) and ``history-trades``, misbehaving.

Subscribe with ``{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"}]}``; one push per taker
order aggregates its fills (``tradeId`` = last fill, ``count`` = fills). The client must send the text
``ping`` (answered ``pong``) or the connection is closed after ``idle_timeout`` seconds, as OKX does after 30 s
of silence. ``shutdown`` sends the service-upgrade notice (64008) before closing. REST:
``/api/v5/market/history-trades?instId=&type=1&after=&limit=`` (≤ 100, newest first). Faults: ``FakeVenue``.
"""

from __future__ import annotations

import time
from decimal import Decimal

import orjson
from aiohttp import web

from argos_testkit.fake_venue import FakeConn, FakeVenue, Fill


def _row(symbol: str, fill: Fill) -> dict[str, str]:
    return {"instId": symbol, "side": "sell" if fill.taker_sells else "buy", "sz": fill.qty, "px": fill.price,
            "source": "0", "tradeId": str(fill.trade_id), "ts": str(fill.time_us // 1_000)}


class FakeOkx(FakeVenue):
    venue = "okx"
    app_ping = True

    def settings_fields(self) -> dict[str, str]:
        return {"okx_ws_url": self.ws_url, "okx_rest_url": self.rest_url}

    def on_client_message(self, conn: FakeConn, message: str | bytes) -> list[str]:
        if message in ("ping", b"ping"):
            self.pings += 1
            conn.last_ping = time.monotonic()
            return ["pong"]
        try:
            request = orjson.loads(message)
            assert request["op"] == "subscribe"
            args = [(a["channel"], a["instId"]) for a in request["args"]]
            assert all(channel == "trades" for channel, _ in args)
        except (orjson.JSONDecodeError, KeyError, TypeError, AssertionError):
            return [orjson.dumps({"event": "error", "code": "60012", "msg": f"Invalid request: {message!s:.100}",
                                  "connId": "fake"}).decode()]
        self.subscribe_requests.append(request)
        unknown = self.subscribe(conn, [inst for _, inst in args])
        if unknown:
            return [orjson.dumps({"event": "error", "code": "60018",
                                  "msg": f"Wrong URL or channel:trades,instId:{unknown[0]} doesn't exist.",
                                  "connId": "fake"}).decode()]
        return [orjson.dumps({"event": "subscribe", "arg": {"channel": "trades", "instId": inst},
                              "connId": "fake"}).decode() for _, inst in args]

    def push(self, symbol: str, fills: list[Fill]) -> list[str]:
        """One push for the order's fills: the last id, their count, the summed size."""
        last = fills[-1]
        item = {**_row(symbol, last), "sz": str(sum(Decimal(f.qty) for f in fills)), "count": str(len(fills)),
                "seqId": last.trade_id}
        return [orjson.dumps({"arg": {"channel": "trades", "instId": symbol}, "data": [item]}).decode()]

    def shutdown_notice(self) -> str:
        return orjson.dumps({"event": "notice", "code": "64008", "msg": "The connection will soon be closed for "
                             "a service upgrade. Please reconnect.", "connId": "fake"}).decode()

    def rest_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v5/market/history-trades", self._history)

    async def _history(self, request: web.Request) -> web.Response:
        symbol = request.query.get("instId", "")
        if symbol not in self.history:
            return web.json_response({"code": "51001", "msg": "Instrument ID doesn't exist.", "data": []}, status=400)
        try:
            limit = int(request.query.get("limit", "100"))
            after = int(request.query["after"]) if "after" in request.query else self.last_id(symbol) + 1
        except ValueError:
            return web.json_response({"code": "51000", "msg": "Parameter after error", "data": []}, status=400)
        if request.query.get("type", "1") != "1" or not 1 <= limit <= 100:
            return web.json_response({"code": "51000", "msg": "Parameter limit error", "data": []}, status=400)
        rows = [_row(symbol, f) for f in self.older_than(symbol, after, limit)]
        return web.Response(body=orjson.dumps({"code": "0", "msg": "", "data": rows}), content_type="application/json")
