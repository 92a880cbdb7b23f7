"""Sans-I/O CoinAPI protocol core: parse, validate, scope, encode. No sockets, no asyncio."""
