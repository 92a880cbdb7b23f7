"""The ASGI application: the WebSocket endpoint, REST metadata, the admin API, /metrics, and the app that routes
to them."""
