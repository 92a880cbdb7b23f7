#!/bin/sh
# The image's entrypoint, as official images do it: `docker run IMAGE --speed 10` means `serve --speed 10`,
# `docker run IMAGE record ...` runs that subcommand, and anything else (`sh`, `python`) runs as given.
set -e
case "$1" in
    -h | --help | --version) set -- coinapi-emulator "$@" ;;
    -*) set -- coinapi-emulator serve "$@" ;;
    serve | simulate | gateway | record | healthcheck | symbols) set -- coinapi-emulator "$@" ;;
esac
exec "$@"
