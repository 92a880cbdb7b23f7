"""The ``coinapi-emulator`` command line: ``serve`` (main.py, serve.py) and ``record`` (record.py)."""
