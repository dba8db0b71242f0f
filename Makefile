# Set-up is part of every target: .venv is created when missing and the project installed.
PYTHON ?= python3
TORCH_VERSION ?= 2.13.0
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-torch-$(TORCH_VERSION)
PYTEST_ARGS ?= -n 2

.PHONY: setup test test-full hypothesis report bench bench-grading lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-full: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m full tests/test_full_grid.py

hypothesis: setup
	LAYERCHECK_EXAMPLES=500 $(BIN)/python -m pytest $(PYTEST_ARGS) tests/test_random_cases.py

report: setup
	$(BIN)/layercheck report

bench: setup
	$(BIN)/layercheck bench

# Grading speed: 200 synthetic vectorised submissions with --jobs 2 from an empty truth cache,
# then one file cold and warm (GRADING_ARGS="--count 50 --kind mixed" for others).
bench-grading: setup
	$(BIN)/python -m layercheck.reports.grading_bench $(GRADING_ARGS)

lint: setup
	$(BIN)/ruff check .

clean:
	rm -rf out .pytest_cache .ruff_cache
