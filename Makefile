# SBT: `make run` brings the whole system up; `make test` passes the tests. Both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test unit e2e contracts faults bench clean messages lint screenshots

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

# The code checks itself: ruff over everything, mypy in strict mode over what pyproject.toml names.
lint: install
	$(BIN)/ruff check services shared tests
	$(BIN)/mypy

contracts: install
	$(BIN)/sbt contracts

# The pages' words: extract them from code and templates, merge them into each catalogue, compile the .mo
# files (the services also compile a missing or stale one at start). Translate what update leaves empty.
LOCALES := shared/i18n/locale
messages: install
	$(BIN)/pybabel -q extract -F babel.cfg -k N_ -k say:2 --no-location --sort-output --project SBT --version 0.1.0 --copyright-holder "the SBT authors" -o shared/i18n/messages.pot .
	$(BIN)/pybabel -q update -i shared/i18n/messages.pot -d $(LOCALES) -l id --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d $(LOCALES) --statistics
# Every dashboard page in both languages, as the role that works there sees it, in var/screenshots/ (a whole
# system with a small demo in a temporary folder, and headless Chromium, installed when missing).
screenshots: install
	$(BIN)/python -m tests.screenshots

# kill -9 of every service and of NATS under a steady load of reports: nothing lost or doubled, caught up in 10 s.
faults: install
	$(BIN)/python -m tests.faults.run

# Benchmarks against their ceilings, on SQLite and PostgreSQL (when it answers); writes BENCHMARKS.md.
bench: install
	$(BIN)/python -m tests.bench.run $(if $(SCALE),--scale $(SCALE))

clean:
	rm -rf var .pytest_cache
