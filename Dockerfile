# coinapi-emulator: the emulator as a container. Build: docker build -t coinapi-emulator .
# Run: docker run --rm -p 8765:8765 coinapi-emulator   (then ws://127.0.0.1:8765/v1/)
FROM python:3.11-slim AS build
# a C compiler for the speedups (simulator/_speedups.c, server/plane/_speedups.c); the runtime image needs none
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY simulator ./simulator
COPY server ./server
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-cache-dir -c /tmp/requirements.lock /wheels/*.whl && rm -rf /wheels /tmp/requirements.lock \
    && useradd --system --uid 10001 emulator
USER emulator
# Inside a container the emulator must listen on every interface; the flags mirror these variables.
ENV COINAPI_EMULATOR_HOST=0.0.0.0 \
    COINAPI_EMULATOR_PORT=8765
EXPOSE 8765
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8765/health')"
ENTRYPOINT ["coinapi-emulator", "serve"]
