"""The ASGI transport's flow control, in process: a fake starlette WebSocket whose sends wait until released."""

from __future__ import annotations

import asyncio
from typing import cast

from starlette.websockets import WebSocket

from coinapi_emulator.server.transport.asgi import _HIGH_WATER, _LOW_WATER, AsgiTransport
from coinapi_emulator.server.transport.frames import text_frame


class SlowWebSocket:
    """Takes a text message only while ``open`` is set."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        await self.open.wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        pass


def test_the_queue_pauses_at_the_high_water_mark_once_and_resumes_below_the_low_water_mark() -> None:
    async def scenario() -> None:
        websocket = SlowWebSocket()
        transport = AsgiTransport(cast(WebSocket, websocket))
        calls: list[str] = []
        transport.set_flow_control(lambda: calls.append("pause"), lambda: calls.append("resume"))
        frames = [text_frame(b'{"n":%d}' % n) for n in range(_HIGH_WATER)]
        transport.send_frames(frames[:-1])
        assert calls == [] and transport.writable()
        transport.send_frames(frames[-1:])
        transport.send_frames([text_frame(b"{}")])  # still paused: no second pause
        assert calls == ["pause"] and not transport.writable() and transport.buffered() == _HIGH_WATER + 1
        websocket.open.set()
        for _ in range(_HIGH_WATER * 2):
            await asyncio.sleep(0)
            if calls[-1] == "resume":
                break
        assert calls == ["pause", "resume"] and transport.writable()
        assert transport.buffered() <= _LOW_WATER
        transport.close(1000, "done")
        await asyncio.sleep(0.01)
        assert len(websocket.sent) == _HIGH_WATER + 1

    asyncio.run(scenario())
