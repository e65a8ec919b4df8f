# Entry points: `make demo` runs the main job on the embedded default, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: setup demo demo-stop test lint sanity unit integration molecule benchmark build clean

setup: $(STAMP)

$(STAMP): requirements-dev.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade pip
	$(VENV)/bin/pip install -r requirements-dev.txt
	@touch $(STAMP)

demo: setup
	tools/demo.sh

demo-stop: setup
	$(VENV)/bin/python tools/local_s3.py stop

test: setup
	tools/run-tests.sh all

lint sanity unit integration molecule: setup
	tools/run-tests.sh $@

build: setup
	$(VENV)/bin/ansible-galaxy collection build --force --output-path build/

clean:
	rm -rf build tests/output .pytest_cache
