"""B1: picows, the naive way: one ``transport.send`` (framing + write) per message per client."""

from __future__ import annotations

import asyncio
import os
import sys

import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import CallbackPublisher, parse_args

clients: dict[WSListener, WSTransport] = {}
paused: set[WSListener] = set()
publisher: CallbackPublisher


class Client(WSListener):
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.TEXT and self not in clients:  # the hello subscribes
            clients[self] = transport
            publisher.kick()
        elif frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
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
    for message in messages:
        for transport in clients.values():
            transport.send(WSMsgType.TEXT, message)


async def main() -> None:
    global publisher
    args = parse_args(__doc__)

    def accept(request: WSUpgradeRequest) -> WSListener:
        return Client()

    server = await ws_create_server(accept, args.host, args.port)
    publisher = CallbackPublisher(asyncio.get_running_loop(), args, publish, lambda: bool(clients) and not paused)
    print(f"B1 picows on ws://{args.host}:{args.port}/ rate={args.rate or 'max'}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main())
