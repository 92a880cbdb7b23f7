"""Bytes on the socket: WebSocket text frames built once (frames.py), permessage-deflate per connection
(deflate.py), and the sinks that write them: our uvicorn protocol's raw data plane (raw.py) or any ASGI server
(asgi.py)."""
