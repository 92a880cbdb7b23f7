"""``python -m coinapi_emulator.server.cli``: the ``coinapi-emulator`` command, where the console script is not."""

from coinapi_emulator.server.cli.main import main

main(prog_name="coinapi-emulator")
