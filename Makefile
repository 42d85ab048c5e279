# Settlement Ops — the README's two commands are `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1:8000
SHIPMENTS ?= 1000000

.PHONY: demo test bench venv migrate seed nightly serve worker beat clean check

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=python3"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q -r requirements.txt
	touch $@

venv: $(VENV)/.installed

migrate: venv
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

nightly: venv
	$(PY) manage.py run_nightly

demo: migrate
	$(PY) manage.py seed_demo
	$(PY) manage.py run_nightly
	@echo "Serving on http://$(HOST)/  (sign in with the users printed above)"
	$(PY) manage.py runserver --insecure $(HOST)

test: venv
	$(PY) -m pytest

check: venv
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

bench: migrate
	$(PY) -m bench --shipments $(SHIPMENTS)

worker: venv
	$(VENV)/bin/celery -A settlement_ops worker -l info

beat: venv
	$(VENV)/bin/celery -A settlement_ops beat -l info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles var
