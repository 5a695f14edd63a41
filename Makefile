# SBT: `make run` brings the whole system up; `make test` passes the tests. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test unit e2e contracts faults bench clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: install
	$(BIN)/sbt run

test: install
	$(BIN)/pytest -q

unit: install
	$(BIN)/pytest -q tests/unit tests/contract

e2e: install
	$(BIN)/pytest -q tests/e2e

contracts: install
	$(BIN)/sbt contracts

# kill -9 of every service and of NATS under a steady load of reports: nothing lost or doubled, caught up in 10 s.
faults: install
	$(BIN)/python -m tests.faults.run

# Benchmarks against their ceilings, on SQLite and PostgreSQL (when it answers); writes BENCHMARKS.md.
bench: install
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf var .pytest_cache
