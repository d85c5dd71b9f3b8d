# The one command runner. `make run` and `make test` install what they need
# (Debian packages, the virtualenv) on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 gettext fonts-dejavu-core chromium
# php-cli: the webhook-signature test verifies as a PHP integrator would; postgresql-client:
# pg_dump for the secrets-at-rest test (issue 14); wrk: the benchmarks, and the test that runs
# one quick case of them (issue 11).
APT_PACKAGES += php-cli postgresql-client wrk
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(REQ_HASH)
export DJANGO_SETTINGS_MODULE := otpportal.settings

.PHONY: run test lint format install system-deps messages clean bench fuzz drill

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
	$(PY) bench/run.py $(if $(CASE),--case $(CASE)) $(if $(QUICK),--quick) $(BENCH_ARGS)

# Fault drills (drills/README.md): each starts its own PostgreSQL (Debian's server
# binaries), redis-server and the product's processes, injects one fault and checks
# that nothing was lost, sent or charged twice. `make drill NAME=redis-outage` runs
# one; DRILL_ARGS passes more options (`--short`, `--shared`; `python -m drills --help`).
drill: install
	@missing=""; ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing="postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	$(PY) -m drills $(NAME) $(DRILL_ARGS)

# Hostile input (issue 14): schemathesis against /api/v1/schema/ with a live and a test
# key, FUZZ_EXAMPLES cases per operation and key (110: more than 5,000 requests); prints
# the requests made, server errors and schema violations. FUZZ_SEED=<n> replays a run.
# PostgreSQL and Redis on 127.0.0.1, as for `make test`.
FUZZ_EXAMPLES ?= 110
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) bin/run-tests tests/api/test_fuzz_no_500.py -q -p no:randomly

clean:
	rm -rf var/broker var/test.sqlite3* .pytest_cache
