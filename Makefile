# st_plus set-up. Two commands on a fresh machine:
#   make run    the main job: train the bundled model through both stages on shipped data, print the before/after table
#   make test   run the test suite (includes the MTEB parity tests)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch goes in first, on its own, so that what depends on it does not pull another build. Where the default index
# serves a CUDA build under this version, point TORCH_INDEX_URL at PyTorch's CPU wheel index (see the README).
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX_URL ?=
STAMP := $(VENV)/.st_plus-installed

.PHONY: install run eval test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL)) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# --resume: a second `make run` continues an interrupted run, or reprints the table of a finished one
run: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/st-plus train examples/recipes/quickstart.yaml --output-dir runs/quickstart --resume

eval: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/st-plus eval --model default --output results/default examples/data/*/

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check st_plus tests benchmarks examples

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/bench_eval_vs_mteb.py

clean:
	rm -rf $(VENV) results runs .pytest_cache
