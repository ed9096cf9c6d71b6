# fwilab — one entry point for readers, developers and CI.
#   make book       set up .venv, execute the chapters (rendering the committed artifacts), build the HTML
#   make test       unit tests, every chapter at the smoke profile, the book build, the browser check
#   make bench      speed benchmarks (forward modelling, FWI gradient, InversionNet training), written to results/bench/
#   make reproduce PROFILE=full DEVICE=cuda [CHAPTERS=data,baselines] [OPENFWI_DIR=/data/openfwi]   recompute and rewrite artifacts
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= full
DEVICE ?= auto
CHAPTERS ?= all
BUILD ?= _build
# torch==2.13.0 (pinned in pyproject.toml) installs from a local wheel where one is provided
PIP_FIND_LINKS ?= $(wildcard /opt/wheels)
PIP_INSTALL := $(BIN)/pip install $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS)) -c .ci/constraints.txt

.PHONY: book test bench reproduce env clean help

help:
	@sed -n '2,5p' Makefile

$(VENV)/.installed: pyproject.toml .ci/constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(PIP_INSTALL) -e ".[book,test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

env: $(VENV)/.installed

book: env
	$(BIN)/python -m fwilab book --build-dir $(BUILD)

test: env
	$(BIN)/python -m pytest

bench: env
	$(BIN)/python -m fwilab bench forward --device $(DEVICE)
	$(BIN)/python -m fwilab bench gradient --device $(DEVICE)
	$(BIN)/python -m fwilab bench train --device $(DEVICE)

reproduce: env
	$(BIN)/python -m fwilab reproduce --profile $(PROFILE) --device $(DEVICE) --chapters $(CHAPTERS) \
		$(if $(OPENFWI_DIR),--openfwi-dir "$(OPENFWI_DIR)")

clean:
	rm -rf $(BUILD) .pytest_cache
