"""B2: picows with coalescing: the messages of one loop pass are framed once into one buffer, and that
buffer goes to each client with a single write on the transport under picows (server frames are not masked,
so the same bytes are valid for every client)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CallbackPublisher, parse_args

clients: dict[WSListener, Any] = {}  # listener -> the asyncio(-like) transport below picows
paused: set[WSListener] = set()
publisher: CallbackPublisher


def frame(payload: bytes) -> bytes:
    """One final, unmasked text frame (RFC 6455 section 5.2)."""
    size = len(payload)
    if size < 126:
        return b"\x81" + bytes((size,)) + payload
    if size < 1 << 16:
        return b"\x81\x7e" + size.to_bytes(2, "big") + payload
    return b"\x81\x7f" + size.to_bytes(8, "big") + payload


class Client(WSListener):
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, ws_frame: WSFrame) -> None:
        if ws_frame.msg_type == WSMsgType.TEXT and self not in clients:
            clients[self] = transport.underlying_transport
            publisher.kick()
        elif ws_frame.msg_type == WSMsgType.CLOSE:
            clients.pop(self, None)  # nothing may follow our close frame
            transport.send_close(ws_frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        clients.pop(self, None)
        paused.discard(self)
        publisher.kick()

    def pause_writing(self) -> None:
        paused.add(self)

    def resume_writing(self) -> None:
        paused.discard(self)
        publisher.kick()


def publish(messages: list[bytes]) -> None:
    buffer = b"".join([frame(m) for m in messages])
    for raw in clients.values():
        raw.write(buffer)


async def main() -> None:
    global publisher
    args = parse_args(__doc__)

    def accept(request: WSUpgradeRequest) -> WSListener:
        return Client()

    server = await ws_create_server(accept, args.host, args.port)
    publisher = CallbackPublisher(asyncio.get_running_loop(), args, publish, lambda: bool(clients) and not paused)
    print(f"B2 picows+coalescing on ws://{args.host}:{args.port}/ rate={args.rate or 'max'}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main())
