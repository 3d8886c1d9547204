# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
JOB_STAMP := $(VENV)/.job-installed
TEST_STAMP := $(VENV)/.test-installed
DEMO_DIR := demo_photos
AXE := node_modules/axe-core/axe.min.js

.PHONY: demo test install system-deps browser axe load clean

# pip keeps downloaded wheels in its cache (~/.cache/pip), so a fresh .venv does not fetch
# torch's ~5 GB again. torch==2.14.1 is pinned so that pip does not pick a local 2.13 build.
$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(JOB_STAMP): requirements.txt requirements-job.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-job.txt
	touch $@

$(TEST_STAMP): $(JOB_STAMP) requirements-test.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

install: $(TEST_STAMP)

# Debian packages: Chromium and ChromeDriver for the browser tests, npm for their accessibility
# audit, wrk for `make load`. Only the missing ones are asked for, as root: Debian's npm package
# conflicts with a nodejs that brings its own npm (NodeSource's), and apt then refuses them all.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing:$$missing and not root: browser tests will be skipped, make load will not run"; \
	  fi; \
	fi

# axe-core (package.json, pinned by package-lock.json), which the browser tests inject into
# every page to audit it; node_modules/ is git-ignored.
$(AXE): package.json package-lock.json | system-deps
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm missing: the accessibility audit will be skipped (it fails under REQUIRE_BROWSER=1)"; fi

axe: $(AXE)

browser: system-deps axe

test: $(TEST_STAMP) system-deps $(AXE)
	$(PY) -m pytest

# gunicorn as the Procfile runs it, under wrk, on a 1000-image index (see README, Performance).
load: $(JOB_STAMP) system-deps
	$(PY) benchmarks/load_test.py

demo: $(JOB_STAMP)
	$(PY) scripts/demo.py --dir $(DEMO_DIR)

clean:
	rm -rf $(VENV) instance $(DEMO_DIR) demo_images node_modules
