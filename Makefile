# ipbus — two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo up test lint unit integration bench clean

$(BIN)/ipbus: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ipbus needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

## demo: install, start the whole bus on embedded defaults, play the scenario, check it
demo: $(BIN)/ipbus
	$(BIN)/ipbus demo

## up: install and run the whole bus until Ctrl-C
up: $(BIN)/ipbus
	$(BIN)/ipbus up

## test: install with test extras, check the house rules, run every suite
## (with Node >= 20, the TypeScript gateway-client smoke too: tools/gateway-client);
## two pytest-xdist workers: most tests wait on a real server, so two share two cores well
NODE_MAJOR := $(shell node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/')
GATEWAY_CLIENT := $(if $(shell [ "$(NODE_MAJOR)" -ge 20 ] 2>/dev/null && echo yes),tools/gateway-client/node_modules)
test: lint $(GATEWAY_CLIENT)
	$(BIN)/python -m pytest -n 2 --durations=15

lint: $(BIN)/ipbus tools/asyncapi/node_modules
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy contracts services tests bench
	$(BIN)/lint-imports
	$(BIN)/ipbus specs check
	node tools/asyncapi/validate.mjs docs/asyncapi.yaml

## the official AsyncAPI parser (npm @asyncapi/parser), pinned by its lockfile
tools/asyncapi/node_modules: tools/asyncapi/package-lock.json
	npm ci --prefix tools/asyncapi --ignore-scripts --no-audit --no-fund
	@touch $@

## @hey-api/openapi-ts and TypeScript for the gateway-client smoke, pinned by its lockfile
tools/gateway-client/node_modules: tools/gateway-client/package-lock.json
	npm ci --prefix tools/gateway-client --ignore-scripts --no-audit --no-fund
	@touch $@

## bench: ipbus against a raw nats-py JetStream baseline, SQLite and PostgreSQL, and a
## 100,000-event scale run (docs/performance.md; about 8 minutes on two cores)
bench: $(BIN)/ipbus
	$(BIN)/ipbus bench --database both --scale 100000 --catch-up 20000

unit: $(BIN)/ipbus
	$(BIN)/python -m pytest tests/unit

integration: $(BIN)/ipbus
	$(BIN)/python -m pytest tests/integration

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache tools/asyncapi/node_modules \
		tools/gateway-client/node_modules
