# coinapi-emulator as a container (README "Docker and compose").
#   docker build -t coinapi-emulator .
#   docker run --rm -p 127.0.0.1:8765:8765 coinapi-emulator          # ws://127.0.0.1:8765/v1/
#   docker run --rm -p 127.0.0.1:9000:9000 -e COINAPI_EMULATOR_PORT=9000 coinapi-emulator --speed 10
#   docker run --rm coinapi-emulator record --help                    # any subcommand, no --entrypoint
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
# A C compiler for the speedups (simulator/csrc/, server/plane/_speedups.c); the runtime image needs none.
# The official python images carry Python.h; a base image with Debian's python3 needs python3-dev for it.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
 && { python -c "import os, sysconfig; raise SystemExit(not os.path.isfile(sysconfig.get_path('include') + '/Python.h'))" \
      || apt-get install -y --no-install-recommends python3-dev; } \
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/venv/bin:$PATH PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# The pinned dependencies in a layer of their own, from the two files that name them: editing the code reuses it.
# With the nats extra: `simulate` and `gateway` (docker/compose.scale.yml) run from the same image.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print(*p['dependencies'], *p['optional-dependencies']['nats'], sep='\n')" > /tmp/requirements.txt \
 && pip install -c requirements.lock -r /tmp/requirements.txt
COPY README.md ./
COPY simulator ./simulator
COPY server ./server
# The C speedups are optional for a pip install (a machine without a compiler still gets a working, slower emulator)
# but not for this image: the import fails the build when they did not compile.
RUN pip install --no-deps . \
 && cd / && python -c "import coinapi_emulator.simulator._speedups, coinapi_emulator.server.plane._speedups" \
 || { echo "the C speedups did not build (no C compiler, or no Python.h?)" >&2; exit 1; }
# the runtime installs nothing: pip and setuptools would be a third of the copied environment
RUN pip uninstall -y -q pip setuptools

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="coinapi-emulator" \
      org.opencontainers.image.description="A CoinAPI Market Data WebSocket and REST emulator streaming a synthetic, reproducible crypto market." \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=build /opt/venv /opt/venv
COPY docker/entrypoint.sh /usr/local/bin/coinapi-emulator-entrypoint
# /data: a writable place for `record --out` and for files given to serve (mount a volume there)
RUN mkdir /data && chown 10001:10001 /data
WORKDIR /data
# Inside a container the emulator listens on every interface; the flags mirror these variables.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    COINAPI_EMULATOR_HOST=0.0.0.0 \
    COINAPI_EMULATOR_PORT=8765
# a numeric user: Kubernetes' runAsNonRoot can check it, and no passwd entry is needed
USER 10001:10001
EXPOSE 8765
# `healthcheck` reads the same COINAPI_EMULATOR_PORT (and _SSL_CERTFILE) as serve, and asks /ready
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 CMD ["coinapi-emulator", "healthcheck"]
ENTRYPOINT ["coinapi-emulator-entrypoint"]
CMD ["serve"]
