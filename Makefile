# The one command runner. `make run` and `make test` install what they need
# (Debian packages, the virtualenv) on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 gettext fonts-dejavu-core chromium
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(REQ_HASH)
export DJANGO_SETTINGS_MODULE := otpportal.settings

.PHONY: run test lint format install system-deps messages clean bench

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required"; exit 1; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: system-deps $(STAMP)

messages: install
	@TESTING=true $(PY) manage.py compilemessages -v 0 --ignore=.venv --ignore=var

test: install messages
	bin/run-tests -n 2 --dist loadfile

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

run: install messages
	bin/run-dev

# Benchmarks (bench/README.md): PostgreSQL and Redis on 127.0.0.1, wrk from
# Debian. `make bench CASE=send` runs one case (and its ceiling), `QUICK=1`
# small data; BENCH_ARGS passes more options (`bench/run.py --help`).
bench: install
	@command -v wrk >/dev/null || { \
	  echo "Installing Debian package: wrk"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk; \
	}
	$(PY) bench/run.py $(if $(CASE),--case $(CASE)) $(if $(QUICK),--quick) $(BENCH_ARGS)

clean:
	rm -rf var/broker var/test.sqlite3* .pytest_cache
