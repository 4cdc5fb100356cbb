# The two commands of the README, and the rest of the project's chores.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_BIN := /usr/lib/postgresql/15/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-long bench lint typecheck clean system-packages

run: $(STAMP)
	$(BIN)/postmeter --db "$${POSTMETER_DATABASE_URL:-sqlite:///postmeter.db}" demo --serve

test: $(STAMP) system-packages
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider

test-long: $(STAMP) system-packages
	POSTMETER_TEST_LONG=1 $(BIN)/pytest -q -p no:cacheprovider

bench: $(STAMP) system-packages
	$(BIN)/python -m bench

# Everything the tests need from the system: PostgreSQL's server binaries (the suite starts its
# own throwaway cluster from them). Installed with apt-get only when missing.
system-packages:
	@if [ ! -x "$(PG_BIN)/initdb" ]; then \
		echo "installing PostgreSQL server binaries (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
