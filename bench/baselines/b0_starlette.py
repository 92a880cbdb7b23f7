"""B0: starlette + uvicorn, the naive way: one ``await websocket.send_text`` per message per client.

uvicorn runs with uvloop, httptools and its ``websockets-sansio`` protocol (its defaults otherwise, so
permessage-deflate is negotiated when a client offers it). Serves every path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import parse_args, publish_forever

ARGS = parse_args(__doc__)
clients: set[WebSocket] = set()


async def endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        await websocket.receive_text()  # the hello subscribes
        clients.add(websocket)
        while True:  # keep reading: pings and close frames need it
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except WebSocketDisconnect:
        pass
    finally:
        clients.discard(websocket)


async def publish(messages: list[bytes]) -> None:
    for message in messages:
        text = message.decode()
        for websocket in list(clients):
            try:
                await websocket.send_text(text)
            except Exception:  # the client went away while we were sending
                clients.discard(websocket)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    task = asyncio.create_task(publish_forever(ARGS, publish, lambda: bool(clients)))
    print(f"B0 starlette/uvicorn on ws://{ARGS.host}:{ARGS.port}/ rate={ARGS.rate or 'max'}", flush=True)
    yield
    task.cancel()


app = Starlette(routes=[WebSocketRoute("/{path:path}", endpoint)], lifespan=lifespan)

if __name__ == "__main__":
    uvicorn.run(
        app,
        host=ARGS.host,
        port=ARGS.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        log_level="warning",
        access_log=False,
    )
