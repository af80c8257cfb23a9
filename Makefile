# Two commands do all the set-up on a fresh machine: `make serve` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint typecheck unit bench protos clean

$(STAMP): pyproject.toml constraints.txt setup.py proxy/_wirescan.c proxy/_mapkernel.c proxy/_densevector.h
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)  ## run the gateway on the embedded engine (gRPC :6334, HTTP :6333)
	$(BIN)/vecgate serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Test files run in parallel, one file per worker at a time (module fixtures such as
# the fuzz gateway or a milvus-lite server stay in one process); JOBS=0 runs serially.
JOBS ?= auto

test: lint typecheck  ## lint, type-check and run the whole suite
	$(BIN)/pytest -n $(JOBS) --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)  ## side-by-side speed table (needs ../shared/data/embeddings)
	$(BIN)/python -m bench $(ARGS)

protos: $(STAMP)  ## regenerate proxy/admin/generated from protos/
	$(BIN)/python -m proxy.admin.codegen

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache vecgate-data
