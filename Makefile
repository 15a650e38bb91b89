# Assay — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= .assay-data
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

RUNTIME_STAMP := $(VENV)/.stamp-runtime
DEV_STAMP     := $(VENV)/.stamp-dev

.PHONY: run test test-fast test-explore lint bench bench-peers clean install dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

# setup.py compiles these with mypyc (ADR 0038, ADR 0015) and the C row reader; an edit rebuilds them. The constraints also pin
# the build environment's mypy. ASSAY_PURE_PYTHON=1 skips the compilation.
COMPILED := src/assay/pii/_patterns.py src/assay/pii/_classify.py src/assay/pii/_validate.py src/assay/pii/detector.py \
            src/assay/pii/_starts.py src/assay/ledger/_rows.py src/assay/ledger/_screen.py src/assay/ledger/_entry_reader.c setup.py mypyc.ini
PIP_INSTALL := PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(BIN)/pip install --quiet -c constraints.txt

$(RUNTIME_STAMP): $(BIN)/python pyproject.toml constraints.txt $(COMPILED)
	$(PIP_INSTALL) -e .
	@touch $@

# One install (one compilation) for the runtime and the dev dependencies.
$(DEV_STAMP): $(BIN)/python pyproject.toml constraints.txt $(COMPILED)
	$(PIP_INSTALL) -e '.[dev]'
	@touch $(RUNTIME_STAMP) $@

install: $(RUNTIME_STAMP)
dev: $(DEV_STAMP)

run: $(RUNTIME_STAMP)
	$(BIN)/assay init --data-dir $(DATA)
	@echo ""
	@echo "  Assay is starting on http://$(HOST):$(PORT)"
	@echo "    dashboard        http://$(HOST):$(PORT)/"
	@echo "    API docs         http://$(HOST):$(PORT)/docs"
	@echo "    readiness        curl http://$(HOST):$(PORT)/readyz"
	@echo "    model API        http://$(HOST):$(PORT)/v1  (offline model: assay-demo)"
	@echo "                     key: $(BIN)/assay keys create --data-dir $(DATA) --tenant demo --role app"
	@echo "  Stop with Ctrl-C. Data lives in $(DATA)/ (remove it with make clean)."
	@echo ""
	$(BIN)/assay serve --data-dir $(DATA) --host $(HOST) --port $(PORT)

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

# Skips the load and soak tests marked `slow` (CI runs them through `make test`).
test-fast: lint
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

# The property tests on fresh random examples, 2,000 where a test sets no count of its own
# (CI draws the same examples on every run).
test-explore: $(DEV_STAMP)
	$(BIN)/pytest tests/property --hypothesis-profile=explore --hypothesis-show-statistics -q

bench: $(DEV_STAMP)
	$(BIN)/assay bench all

# Peer tools the benchmarks compare against (LiteLLM's proxy, Presidio over a blank spaCy
# pipeline), in their own virtualenv: never Assay dependencies.
PEERS := .venv-peers
PEER_PACKAGES := 'litellm[proxy]' presidio-analyzer

clean:
	rm -rf $(VENV) $(PEERS) $(DATA) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
	rm -f src/assay/pii/*.so src/assay/ledger/*.so assay_pii_native__mypyc*.so assay_ledger_native__mypyc*.so

bench-peers: $(PEERS)/.stamp
$(PEERS)/.stamp: benchmarks/peers-constraints.txt
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade "pip>=24"
	$(PEERS)/bin/pip install --quiet -c benchmarks/peers-constraints.txt $(PEER_PACKAGES)
	@touch $@
