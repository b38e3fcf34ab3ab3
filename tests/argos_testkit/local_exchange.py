"""What every fake exchange shares: a WebSocket server and a REST app on free loopback ports, a market generator
task, and their start/stop. Subclasses speak a venue's protocol (``_handle``), serve its REST routes
(``_rest_application``) and make its trades (``_generate``)."""

from __future__ import annotations

import asyncio
from typing import Any, Self

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve


class LocalExchange:
    """Lifecycle of a local fake exchange; use ``async with Fake(...) as fake``."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ws_server: Server | None = None
        self._rest: web.AppRunner | None = None
        self.ws_port = 0
        self.rest_port = 0

    async def _handle(self, ws: ServerConnection) -> None:
        raise NotImplementedError

    def _rest_application(self) -> web.Application:
        raise NotImplementedError

    async def _generate(self) -> None:
        raise NotImplementedError

    async def start(self) -> Self:
        self._ws_server = await serve(self._handle, "127.0.0.1", 0, ping_interval=None, max_size=2**20)
        self.ws_port = next(iter(self._ws_server.sockets)).getsockname()[1]
        self._rest = web.AppRunner(self._rest_application(), access_log=None)
        await self._rest.setup()
        await web.TCPSite(self._rest, "127.0.0.1", 0).start()
        self.rest_port = self._rest.addresses[0][1]
        self._spawn(self._generate())
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
        if self._rest is not None:
            await self._rest.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
