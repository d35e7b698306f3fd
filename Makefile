# Mission Control OS. `make run` and `make test` set up everything they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
DEMO ?= var/demo-day
SPEED ?= 240

.PHONY: run test test-lowest lint bytecode bench bench-runtime bench-dashboard bench-sandbox bench-mail bench-workbooks bench-scale install clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"

# With the `bench` group (the frameworks bench/runtime.py compares with): the tests run every
# benchmark in its tiny mode (tests/bench/), and one environment serves `make test` and `make bench`.
$(VENV)/.installed: pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --frozen --python $(PYTHON) --quiet --compile-bytecode --group bench
	touch $@

install: $(VENV)/.installed

# Every `mcos` process (the tests start hundreds) would otherwise compile its imports from source
# where PYTHONDONTWRITEBYTECODE is set: 4 of init's 7 s here. Python still reads .pyc files then.
bytecode: install
	@$(BIN)/python -m compileall -q src > /dev/null

run: install bytecode
	@scripts/ensure-sandbox
	@scripts/ensure-dovecot
	$(BIN)/mcos demo $(DEMO) --speed $(SPEED)

test: install bytecode
	@scripts/ensure-postgres
	@scripts/ensure-chromium
	@scripts/ensure-axe
	@scripts/ensure-sandbox
	@scripts/ensure-dovecot
	@scripts/ensure-caddy
	$(BIN)/pytest -n 2  # two workers: most tests wait on real servers, not on the CPU

# mcos on the lowest versions pyproject.toml allows (`--resolution lowest-direct`), in its own
# .venv-lowest: init --minimal, serve, and one `mcos run` task on each provider's fake. `make test`
# runs the same test, in a venv of its own under tmp.
test-lowest: install
	rm -rf .venv-lowest
	$(UV) venv --quiet --python $(PYTHON) .venv-lowest
	VIRTUAL_ENV=.venv-lowest $(UV) pip install --quiet --compile-bytecode \
	  --resolution lowest-direct --requirements pyproject.toml .
	MCOS_TEST_LOWEST_VENV=.venv-lowest $(BIN)/pytest -n 0 tests/packaging/test_lowest.py

lint: install
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	$(BIN)/mypy --strict examples/openai_agents_sdk/agent.py
	$(BIN)/mypy --strict examples/langgraph/agent.py

bench: install
	@scripts/ensure-postgres
	$(BIN)/python bench/ingest.py
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
	  $(BIN)/python bench/ingest.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/; fi
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then $(BIN)/python bench/scale.py; fi
	$(BIN)/python bench/runtime.py
	@scripts/ensure-chromium
	$(BIN)/python bench/dashboard.py
	@scripts/ensure-sandbox
	$(BIN)/python bench/sandbox.py
	@scripts/ensure-dovecot
	$(BIN)/python bench/mail.py
	$(BIN)/python bench/workbooks.py

bench-runtime: install
	$(BIN)/python bench/runtime.py

bench-dashboard: install
	@scripts/ensure-chromium
	$(BIN)/python bench/dashboard.py

bench-sandbox: install
	@scripts/ensure-sandbox
	$(BIN)/python bench/sandbox.py

bench-mail: install
	@scripts/ensure-dovecot
	$(BIN)/python bench/mail.py

bench-scale: install
	@scripts/ensure-postgres
	$(BIN)/python bench/scale.py

bench-workbooks: install
	$(BIN)/python bench/workbooks.py

clean:
	rm -rf $(VENV) .venv-lowest .tools var dist .pytest_cache .mypy_cache .ruff_cache tests/dashboard/axe/node_modules
