"""Readers of market-data files from other sources, as CoinAPI messages for a recording (``replay/importer.py``).

One module a source: ``tardis`` (Tardis.dev CSV datasets), ``binance`` (data.binance.vision trade files),
``coinapi`` (CoinAPI flat files), ``coinapi_json`` (CoinAPI's WebSocket messages a line, or a REST answer);
``rows`` holds what they share: the message type they yield, number tokens,
times and symbol ids.
"""
