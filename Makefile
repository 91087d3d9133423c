# Two commands: `make run` (install, migrate, load demo data, serve with gunicorn) and `make test`
# (the whole suite, on SQLite and PostgreSQL; `make test PYTEST_ARGS="--db sqlite"` for SQLite only).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app wsgi
PORT   ?= 5000
HOST   ?= 127.0.0.1

.PHONY: run test install install-dev serve clean

$(VENV)/bin/python:
	@$(PYTHON) -m venv $(VENV) || { echo "Cannot create a virtualenv: on Debian run 'apt-get install python3-venv' first."; exit 1; }
	@$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(FLASK) db upgrade
	$(FLASK) questionnaire publish
	$(FLASK) demo load --if-empty
	@$(FLASK) urls --base http://$(HOST):$(PORT)
	BIND=$(HOST):$(PORT) $(VENV)/bin/gunicorn -c gunicorn.conf.py

test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance/survey.sqlite3*
