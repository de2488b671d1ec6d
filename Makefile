# chatwatch developer entry points. `make demo` and `make test` work on a fresh machine with
# Python 3.11+, Java 17 and Maven (scripts/kafka-local installs the last two with apt if missing).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
KAFKA_PORT ?= 9092
export KAFKA_PORT
export CHATWATCH_KAFKA_BOOTSTRAP ?= 127.0.0.1:$(KAFKA_PORT)

.PHONY: venv install kafka-start kafka-stop demo test lint clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "chatwatch needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python

# Re-installs only when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

kafka-start:
	scripts/kafka-local start

kafka-stop:
	scripts/kafka-local stop

demo: install
	scripts/kafka-local start
	$(BIN)/chatwatch demo; status=$$?; scripts/kafka-local stop; exit $$status

test: install
	scripts/kafka-local start
	$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; scripts/kafka-local stop; exit $$status

lint: install
	$(BIN)/ruff check .

clean:
	scripts/kafka-local stop --clean
	rm -rf $(VENV) build *.egg-info
