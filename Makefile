# Two commands: `make run` (install, migrate, load demo data, serve with gunicorn) and `make test`
# (the whole suite, on SQLite and PostgreSQL; `make test PYTEST_ARGS="--db sqlite"` for SQLite only).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app wsgi
PORT   ?= 5000
HOST   ?= 127.0.0.1

.PHONY: run test install install-dev serve clean translations

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
	$(FLASK) targets load targets/*.yaml targets/demo/*.yaml
	@$(FLASK) users demo --if-empty --base http://$(HOST):$(PORT)
	@$(FLASK) urls --base http://$(HOST):$(PORT)
	SURVEY_PUBLIC_BASE_URL=$${SURVEY_PUBLIC_BASE_URL:-http://$(HOST):$(PORT)} BIND=$(HOST):$(PORT) $(VENV)/bin/gunicorn -c gunicorn.conf.py

# pytest-xdist workers: one more than the cores, since the suite's workers spend much of their time
# waiting on chromium, gunicorn and PostgreSQL rather than computing; TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))
test: install-dev
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# Translations (README § Translations): extract the marked Vietnamese strings from survey/ and
# templates/ (babel.cfg), merge them into every language's .po (new ones empty, changed ones
# fuzzy, removed ones dropped), compile the .mo files. The .po and .mo are both committed.
BABEL          := $(VENV)/bin/pybabel
CATALOGUES     := survey/translations
BABEL_KEYWORDS := --no-default-keywords -k _ -k N_ -k gettext -k lazy_gettext -k ngettext:1,2
POT            := $(VENV)/messages.pot

# One run at a time (flock): two runs sharing the .pot once emptied the English catalogue.
translations: install
	flock $(VENV)/.translations.lock sh -c '\
	  $(BABEL) extract -F babel.cfg $(BABEL_KEYWORDS) --add-location=file --project=SIPAS --version=1 -o $(POT) survey templates && \
	  $(BABEL) update -i $(POT) -d $(CATALOGUES) --ignore-obsolete --ignore-pot-creation-date && \
	  $(BABEL) compile -d $(CATALOGUES) --statistics'

clean:
	rm -rf $(VENV) instance/survey.sqlite3*
