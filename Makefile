# The two commands: `make run` (the whole panel on embedded defaults) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium

export PORT

.DEFAULT_GOAL := help
.PHONY: help run test test-fast lint format typecheck screenshots bench chaos chromium redis clean

help:
	@echo "make run    start web, worker and beat on http://127.0.0.1:$(PORT)/ (SQLite + file broker under var/)"
	@echo "make test   install everything and run the whole suite"
	@echo "make test-fast     the unit layer (no real worker, browser or subprocess), in parallel: the edit-test loop"
	@echo "make lint   ruff check + format check + mypy"
	@echo "make screenshots   regenerate docs/screenshots/ (README images)"
	@echo "make bench         print dashboard and polling timings"
	@echo "make chaos         500 deployments under faults, worker kills and a Redis restart; one JSON line"

$(VENV)/.python-ok:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	@touch $@

$(VENV)/.installed: requirements.txt $(VENV)/.python-ok
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

run: $(VENV)/.installed
	@mkdir -p var
	DEBUG=$${DEBUG:-true} PANEL_SANDBOX=$${PANEL_SANDBOX:-true} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} PANEL_SANDBOX=$${PANEL_SANDBOX:-true} $(PY) manage.py bootstrap_demo
	DEBUG=$${DEBUG:-true} PANEL_SANDBOX=$${PANEL_SANDBOX:-true} PANEL_FRIENDLY_ERRORS=$${PANEL_FRIENDLY_ERRORS:-true} \
	  PANEL_SANDBOX_URL=$${PANEL_SANDBOX_URL:-http://127.0.0.1:$(PORT)/sandbox} \
	  PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho start -f Procfile -p $(PORT)

# Browser tests drive the system Chromium; install Debian's package if it is missing and we can.
chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Chromium for the browser tests (apt-get install chromium)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); \
	  else echo "The browser tests need Chromium at $(CHROMIUM) (Debian/Ubuntu: sudo apt-get install chromium)"; exit 1; fi; }

# The chaos suite starts its own redis-server on a free port (never a shared one); install
# Debian's package if it is missing and we can. Without it the suite runs on the file broker.
redis:
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing redis-server for the chaos suite (apt-get install redis-server)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null); \
	  else echo "redis-server is missing: the chaos suite runs on the file broker (Debian/Ubuntu: sudo apt-get install redis-server)"; fi; }

# The real-worker and browser tests spend most of their time waiting on the worker and the
# twins, so the unit layer runs beside them in one xdist process: its own test database,
# var/ folder, broker queue and cache prefix (settings_test.py), so neither sees the other's
# work. Its report follows the slow layer's.
test: lint chromium redis
	@mkdir -p var
	$(PY) -m pytest -q -n 1 -m "not integration and not browser" > var/unit-layer.log 2>&1 & unit=$$!; \
	$(PY) -m pytest -m "integration or browser"; slow=$$?; \
	wait $$unit; fast=$$?; echo "--- the unit layer (var/unit-layer.log) ---"; cat var/unit-layer.log; \
	test $$slow -eq 0 && test $$fast -eq 0

# Everything but the real-worker integration, browser and subprocess tests, on every core.
test-fast: $(VENV)/.installed-dev
	$(PY) -m pytest -q -n auto -m "not integration and not browser"

# The README's screenshots, taken by the browser suite from a realistic sandbox fleet.
screenshots: $(VENV)/.installed-dev chromium
	SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(PY) -m pytest -q -p no:cacheprovider tests/browser/test_screenshots.py

# Performance figures (printed, never asserted): the dashboard and one account poll.
bench: $(VENV)/.installed-dev
	DEBUG=true PANEL_SANDBOX=true PANEL_VAR_DIR=$(CURDIR)/var/bench $(PY) manage.py migrate -v0
	DEBUG=true PANEL_SANDBOX=true PANEL_VAR_DIR=$(CURDIR)/var/bench $(PY) manage.py bench_dashboard --deployments 10000
	DEBUG=true PANEL_SANDBOX=true PANEL_RATE_LIMITS='*=0' PANEL_VAR_DIR=$(CURDIR)/var/bench $(PY) manage.py bench_refresh --deployments 100 1000
	DEBUG=true PANEL_SANDBOX=true PANEL_RATE_LIMITS='*=0' PANEL_VAR_DIR=$(CURDIR)/var/bench $(PY) manage.py bench_refresh --deployments 500 --accounts 10 --latency-ms 50

# Exactly-once under faults and kills, at the size the README reports (a few minutes).
chaos: $(VENV)/.installed-dev redis
	DEBUG=true PANEL_SANDBOX=true PANEL_VAR_DIR=$(CURDIR)/var/bench $(PY) manage.py chaos --deployments 500 --seed 1

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var/test var/test-gw* staticfiles .pytest_cache
