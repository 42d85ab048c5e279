# Settlement Ops — the README's two commands are `make demo` and `make test`.
# With no DATABASE_URL every target uses the embedded PostgreSQL under var/ (started once, reused,
# stopped by `make stop`); with DATABASE_URL set, that server instead.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1:8000
EMBEDDED_DB := $(PY) -m settlement_ops.embedded_db
# Python keeps compiled bytecode (__pycache__, ignored by git) even where the environment says not
# to: without it every process (each test worker, each command) compiles Django and the app anew,
# about 9 s of every test run.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test bench venv messages db migrate seed nightly serve worker beat stop clean check lint format

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=python3"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed

# Translation catalogues: locale/*/LC_MESSAGES/django.po -> .mo (pure Python, no GNU gettext).
messages: venv
	$(PY) manage.py catalogues_compile

# The embedded PostgreSQL, unless DATABASE_URL names a server.
db: venv messages
	@if [ -z "$$DATABASE_URL" ]; then echo "embedded PostgreSQL: $$($(EMBEDDED_DB) start)"; fi

migrate: db
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

nightly: db
	$(PY) manage.py run_nightly

# The embedded server stops when the demo server exits (Ctrl-C included).
demo: migrate
	$(PY) manage.py seed_demo
	$(PY) manage.py run_nightly
	@echo "Serving on http://$(HOST)/  (sign in with the users printed above)"
	@if [ -z "$$DATABASE_URL" ]; then trap '$(EMBEDDED_DB) stop' EXIT; trap 'exit 0' INT TERM; fi; \
		$(PY) manage.py runserver --insecure $(HOST)

serve: db
	$(PY) manage.py runserver --insecure $(HOST)

test: db
	$(PY) -m pytest

stop: venv
	$(EMBEDDED_DB) stop

check: db
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

# Fix what the linter can and format the code.
format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# `make bench` (full: 1M shipments, under 20 minutes), `make bench QUICK=1` (every figure at a tenth of
# the volume, under 3 minutes), `make bench SHIPMENTS=N` (another billing-run size).
bench: db
	$(PY) -m bench $(if $(QUICK),--quick) $(if $(SHIPMENTS),--shipments $(SHIPMENTS))

worker: venv
	$(VENV)/bin/celery -A settlement_ops worker -l info

beat: venv
	$(VENV)/bin/celery -A settlement_ops beat -l info

clean:
	-test -x $(PY) && $(EMBEDDED_DB) stop
	rm -rf $(VENV) staticfiles var
