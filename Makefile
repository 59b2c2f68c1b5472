# Living review of inotuzumab ozogamicin in adult ALL.
# `make help` lists the targets. Everything runs inside .venv, made from requirements.lock.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv lock book docs api-into-book test test-fast lint format validate bench release links clean system-deps

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml lib/review/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . -e lib/review
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $@

venv: $(STAMP)  ## create or update the virtual environment (.venv) from requirements.lock

lock:  ## re-pin requirements.lock from requirements.in (then commit both)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --output-file requirements.lock requirements.in

# The book's site holds metaprop's API site (make docs) in its folder api/, where the pages
# API reference and Reuse link to it (../../api/index.html): the site read locally is the
# one GitHub Pages publishes. tests/browser/site_build.py runs `docs api-into-book` likewise.
SITE := _build/html
book: $(STAMP) docs  ## validate data/, execute every chapter, build the site into _build/html (API site in api/)
	$(PY) -m review build
	@$(MAKE) --no-print-directory api-into-book

# metaprop's API reference, its own Sphinx site (docs/metaprop); warnings are errors.
# The same command runs in tests/test_api_docs.py and in CI (.github/workflows/ci.yml).
API_OUT := _build/api
docs: $(STAMP)  ## build metaprop's API reference site into _build/api (warnings are errors)
	$(PY) -m sphinx -W -n --keep-going -q -b html -d $(API_OUT)/.doctrees docs/metaprop $(API_OUT)/html

api-into-book:  ## copy the API site (make docs) into the book's site as api/ (make book does)
	rm -rf $(SITE)/api
	cp -R $(API_OUT)/html $(SITE)/api

test: $(STAMP)  ## run the whole test suite (the command CI runs)
	$(PY) -m pytest

test-fast: $(STAMP)  ## tests without the slow, R and browser ones
	$(PY) -m pytest -m "not slow and not needs_r and not browser"

lint: $(STAMP)  ## ruff on lib/, tests/, benchmarks/, scripts/, docs/ and the chapters' code cells
	$(VENV)/bin/ruff check lib tests benchmarks scripts docs
	$(VENV)/bin/ruff format --check lib tests benchmarks scripts docs
	$(PY) scripts/lint_chapters.py

format: $(STAMP)  ## format the code with ruff
	$(VENV)/bin/ruff format lib tests benchmarks scripts docs

validate: $(STAMP)  ## check data/ against the schema
	$(PY) -m review validate data

bench: $(STAMP)  ## benchmarks against metafor and pimeta (writes benchmarks/results/)
	$(PY) -m benchmarks.run

release: $(STAMP)  ## snapshot data and pooled results: make release VERSION=x.y
	$(PY) -m review release $(VERSION)

links: $(STAMP)  ## check external links (DOIs, sources, site links); needs the network
	$(PY) scripts/check_external_links.py --site _build/html --data data

system-deps:  ## install R + metafor, Chromium and plot fonts from Debian (needs root)
	bash scripts/install_system_deps.sh

clean:  ## remove build output (keeps .venv)
	rm -rf _build build dist
