# DutyDesk: `make run` serves a demo instance, `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
export DUTYDESK_TEST_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: install run test test-sqlite test-postgresql lint migrate bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/dutydesk migrate
	$(BIN)/dutydesk demo
	$(BIN)/dutydesk serve --host 127.0.0.1 --port 8000

migrate: install
	$(BIN)/dutydesk migrate

test: install
	BIN=$(BIN) scripts/run_tests.sh $(PYTEST_ARGS)

test-sqlite: install
	$(BIN)/pytest --db=sqlite $(PYTEST_ARGS)

test-postgresql: install
	$(BIN)/pytest --db=postgresql $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	@command -v wrk >/dev/null 2>&1 || apt-get install -y -q wrk >/dev/null 2>&1 || true
	$(BIN)/python bench/api_create.py
	$(BIN)/python bench/queue_query.py
	$(BIN)/python bench/sla_math.py
	$(BIN)/python bench/worker.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/triage.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/pages.py
	DUTYDESK_MAIL_FUZZ=10000 $(BIN)/pytest tests/intake/mail/test_hostile.py -q -s -k mutated

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
