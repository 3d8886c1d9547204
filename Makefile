# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
JOB_STAMP := $(VENV)/.job-installed
TEST_STAMP := $(VENV)/.test-installed
DEMO_DIR := demo_images

.PHONY: demo test install browser clean

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

# Debian's Chromium and ChromeDriver for the browser tests (installed when missing, as root).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	  else \
	    echo "chromium/chromedriver missing and not root: browser tests will be skipped"; \
	  fi; \
	fi

test: $(TEST_STAMP) browser
	$(PY) -m pytest

demo: $(JOB_STAMP)
	$(PY) scripts/demo.py --dir $(DEMO_DIR)

clean:
	rm -rf $(VENV) instance $(DEMO_DIR)
