# Two commands a new user needs: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements.lock
# `make run` knobs; the emulator's own variables set them too (COINAPI_EMULATOR_PORT=9000 make run), and every
# other COINAPI_EMULATOR_* variable reaches the server as is
HOST   ?= $(or $(COINAPI_EMULATOR_HOST),127.0.0.1)
PORT   ?= $(or $(COINAPI_EMULATOR_PORT),8765)
ARGS   ?=
# the C speedups are built by the install: a changed source reinstalls
CSRC   := $(wildcard simulator/csrc/*.[ch] server/*/*.c)
# static tools (mypy, the layering test) cannot follow the editable install's import hook: they read the package
# coinapi_emulator through this folder of links to server/ and simulator/
NAMESPACE := $(VENV)/namespace/coinapi_emulator

.PHONY: run test lint typecheck unit browser contracts realism hardening soak docker-test bench bench-scale lock clean

# The stamp files make re-runs instant; they depend on the lock so a changed pin reinstalls.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"

$(VENV)/.installed: $(BIN)/python pyproject.toml $(LOCK) $(CSRC)
	$(BIN)/pip install -q -c $(LOCK) -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml $(LOCK) $(CSRC)
	$(BIN)/pip install -q -c $(LOCK) -e ".[dev]"
	touch $(VENV)/.installed $@

$(NAMESPACE): | $(BIN)/python
	mkdir -p $@
	ln -sfn ../../../server $@/server
	ln -sfn ../../../simulator $@/simulator

run: $(VENV)/.installed
	$(BIN)/coinapi-emulator serve --host $(HOST) --port $(PORT) $(ARGS)

# lint-imports: no import cycle, server/'s layers, a pure simulator and protocol ([tool.importlinter])
lint: $(VENV)/.installed-dev $(NAMESPACE)
	$(BIN)/ruff check simulator server tests bench
	$(BIN)/ruff format --check simulator server tests bench
	PYTHONPATH=$(VENV)/namespace $(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.installed-dev $(NAMESPACE)
	$(BIN)/mypy --strict

# Two workers (pytest-xdist), a test file each at a time: the e2e tests mostly wait on the servers they start, so
# this halves the suite on 2 cores. TEST_WORKERS=0 runs it in one process (a debugger, -x); more workers start more
# servers at once, which a small machine's timing tests may not bear.
TEST_WORKERS ?= 2
unit: $(VENV)/.installed-dev $(NAMESPACE) browser
	$(BIN)/pytest --numprocesses $(TEST_WORKERS) --dist loadfile --cov --cov-report=term $(ARGS)

# The dashboard tests drive a real headless Chromium through playwright, which cannot download its own browser
# here: Debian's build is installed when none is on the PATH (root, or sudo). Elsewhere, point
# COINAPI_EMULATOR_CHROMIUM at a Chromium; without one those tests skip and say so (and fail under CI).
BROWSER_PACKAGES := chromium-headless-shell fonts-dejavu-core
browser:
	@if [ -n "$$COINAPI_EMULATOR_CHROMIUM" ] || command -v chromium-headless-shell >/dev/null || command -v chromium >/dev/null; then \
		exit 0; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "installing $(BROWSER_PACKAGES) for the dashboard tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; \
	elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then \
		sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; \
	else \
		echo "warning: no Chromium and no apt-get: the dashboard tests will skip (set COINAPI_EMULATOR_CHROMIUM)"; \
	fi

test: lint typecheck unit

# Every hardening case as an attack on a real server while a good client watches (docs/RELIABILITY.md): about a minute on
# 2 cores, not part of `make test`. Its table goes to build/hardening.md.
hardening: $(VENV)/.installed-dev
	$(BIN)/pytest -m hardening tests/hardening $(ARGS)

# Ten minutes of ~10,000 messages/s to 100 churning clients; memory must stay flat within 10% (build/soak.md).
soak: $(VENV)/.installed-dev
	$(BIN)/pytest -m soak tests/hardening --timeout 900 $(ARGS)

# The image built and run, and the compose stack with its example service, by a real Docker engine (compose v2):
# host networking, so that it also runs where containers get no bridge. Not part of `make test`. Its figures go to
# build/docker-test.md.
docker-test: $(VENV)/.installed-dev
	$(BIN)/pytest -m docker tests/docker -v $(ARGS)

# How close the simulated market is to real ones: two seeds, 72 virtual hours and 180 days of daily returns each,
# ~9 min on 2 cores; writes docs/REALISM.md and its plots (docs/realism/). `ARGS="--hours 6 --days 10"`: a quick look.
realism: $(VENV)/.installed-dev
	$(BIN)/python -m bench.realism $(ARGS)

# docs/asyncapi.yaml from the document the server serves as /asyncapi.json (tests/contracts checks it is current)
contracts: $(VENV)/.installed-dev
	$(BIN)/python -m tests.contracts.asyncapi_yaml

$(VENV)/.installed-bench: $(BIN)/python pyproject.toml $(LOCK) $(CSRC)
	$(BIN)/pip install -q -c $(LOCK) -e ".[dev,bench]"
	touch $(VENV)/.installed $(VENV)/.installed-dev $@

# Benchmarks (docs/BENCHMARKS.md): ~20 min on 2 cores; `make bench ARGS=--quick` is a ~4 min smoke run.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench $(ARGS)

# One simulator and K gateways over NATS against one `serve` (docs/BENCHMARKS.md, "Scale-out"): ~10 min on
# 2 cores; `ARGS="--b3"` adds the kit's fan-out ceiling B3; `ARGS="--gateways 1,2,4,8 --hello trades"` on a
# bigger machine.
bench-scale: $(VENV)/.installed-bench
	$(BIN)/python -m bench.scale $(ARGS)

# Re-pin after editing pyproject.toml dependencies (uv only resolves; installs use pip -c).
lock:
	$(PYTHON) -m venv /tmp/coinapi-emulator-uv && /tmp/coinapi-emulator-uv/bin/pip install -q uv
	/tmp/coinapi-emulator-uv/bin/uv pip compile pyproject.toml --extra dev --extra bench --extra nats --python-version 3.11 -o $(LOCK)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage simulator/*.so server/*/*.so build
