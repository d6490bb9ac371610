# Mostrador — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST := $(BIN)/pytest -p no:cacheprovider

.PHONY: help install run run-distributed test test-fast test-integration test-e2e bench bench-quick \
        asyncapi dlq lint clean

help:
	@echo "make run              all of Mostrador in one process: http://127.0.0.1:8000 (simulator: /simulator)"
	@echo "make test             every test tier (unit service contract integration e2e)"
	@echo "make run-distributed  one process per service on PostgreSQL + RabbitMQ (DATABASE_URL, AMQP_URL)"
	@echo "make bench            the benchmark suite (bench-quick: small sizes)"
	@echo "make dlq              list dead letters (dlq ARGS='--redrive tickets' to re-drive)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

run: install
	$(BIN)/python -m deploy.embedded

run-distributed: install
	$(BIN)/python -m deploy.distributed

# Every tier, fastest first. Integration and e2e use DATABASE_URL / AMQP_URL (see .ci/run); without
# them they are skipped with the reason, except under CI=true where that is a failure.
test: install
	@deploy/scripts/ensure-chromium
	$(PYTEST) -q tests/unit tests/service tests/contract
	$(PYTEST) -q tests/integration
	$(PYTEST) -q tests/e2e
	@bench/ensure-wrk
	$(PYTEST) -q bench/test_bench_quick.py

test-fast: install
	$(PYTEST) -q tests/unit tests/service tests/contract

test-integration: install
	$(PYTEST) -q tests/integration

test-e2e: install
	@deploy/scripts/ensure-chromium
	$(PYTEST) -q tests/e2e

# Benchmarks (bench/, issue 6): PostgreSQL and RabbitMQ on loopback (DATABASE_URL / AMQP_URL, else the
# local defaults); results in bench/results/<timestamp>-<profile>.jsonl and a table on stdout.
bench: install
	@bench/ensure-wrk
	$(BIN)/python -m bench

bench-quick: install
	@bench/ensure-wrk
	$(BIN)/python -m bench --quick

asyncapi: install
	$(BIN)/python -m mostrador.events.asyncapi > docs/asyncapi.yaml

dlq: install
	$(BIN)/python -m mostrador.platform.dlq $(ARGS)

lint: install
	$(BIN)/python -m ruff check . || true

clean:
	rm -rf $(VENV) var build *.egg-info
