# Everything needed on a fresh machine: `make test` (set-up + tests), `make demo` (set-up + the main job).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test test-all lint demo clean

# torch and torchvision come first, pinned by constraints.txt, so no bare `torch` reaches the resolver.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -c constraints.txt torch torchvision
	$(BIN)/pip install -q -c constraints.txt -e '.[all,dev]'
	touch $@

install: $(VENV)/.installed

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

test-all: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m ''

lint: install
	$(BIN)/ruff check src tests benchmarks experiments

demo: install
	HF_HUB_OFFLINE=1 $(BIN)/unireward demo --output runs/demo

clean:
	rm -rf $(VENV) runs .pytest_cache
