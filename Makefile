# Deux commandes suffisent sur une machine neuve / two commands on a fresh machine:
#   make demo   — installe .venv et lance la démonstration sur un Synapse local jetable
#   make test   — installe .venv et lance les vérifications et tous les tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint console clean

$(STAMP): pyproject.toml setup.py bot/guards/_model_sums.pyx bot/guards/_pieces.pyx
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/halte demo

console: $(STAMP)
	$(BIN)/halte console

lint: $(STAMP)
	$(BIN)/ruff check bot commandes stockage tests bench
	$(BIN)/ruff format --check bot commandes stockage tests bench
	$(BIN)/mypy

# pytest exits 5 when it collected no test: that is not a failure of the suite's set-up.
test: lint
	$(BIN)/python -m pytest; status=$$?; if [ $$status -eq 5 ]; then exit 0; fi; exit $$status

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
