"""coinapi-emulator server: protocol, fan-out hub, ASGI app, REST and CLI."""
