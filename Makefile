# Two commands do all the set-up on a fresh machine:  make demo  and  make test.
# Both create .venv and install the pinned environment once (constraints.txt); later runs reuse it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# nbgrader calls `alembic` (and Jupyter calls its tools) from PATH: put the venv first.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help install demo test test-fast test-browser test-hub lint lab notebooks release publish bench summary pretrain data clean

help:                      ## list the targets (what a bare `make` does)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):[^#]*## /  make \1\t/' | expand -t 22

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)          ## create .venv and install (idempotent)

demo: $(STAMP)             ## the main job: build the release, grade sample submissions, report
	$(BIN)/python -m autograde demo

test: $(STAMP) lint        ## ruff, then the whole test suite but the hub round trip (make test-hub)
	$(BIN)/python -m pytest -q -m "not hub"

lint: $(STAMP)             ## ruff (configured in pyproject.toml)
	$(BIN)/python -m ruff check .

test-hub: $(STAMP)         ## a real JupyterHub class on 127.0.0.1: release, submit, grade, feedback (root; ~5 min)
	COURSE_REQUIRE_HUB=1 $(BIN)/python -m pytest -q -m hub tests/test_hub.py

test-fast: $(STAMP)        ## unit tests only (no notebook execution, no grading)
	$(BIN)/python -m pytest -q -m "not slow"

test-browser: $(STAMP)     ## JupyterLab, formgrader, hostile pages, axe-core in headless Chromium (screenshots: .grading/screenshots)
	$(BIN)/python -m pytest -q -m browser tests/test_browser.py tests/test_accessibility.py

lab: $(STAMP)              ## open the student notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks/

publish: $(STAMP)          ## the student course into DIR (a git repository): make publish DIR=../course [REPOSITORY=owner/name]
	@test -n "$(DIR)" || (echo "usage: make publish DIR=path/to/student-course [ASSIGNMENTS=a,b] [REPOSITORY=owner/name]"; exit 2)
	$(BIN)/python -m autograde publish $(DIR) $(if $(ASSIGNMENTS),--assignments $(ASSIGNMENTS)) $(if $(REPOSITORY),--repository $(REPOSITORY))

notebooks: $(STAMP)        ## solutions/<name>/<name>.py -> solutions/<name>/<name>.ipynb -> notebooks/<name>/<name>.ipynb
	$(BIN)/python -m autograde quiz
	$(BIN)/python -m autograde notebooks
	$(BIN)/python -m autograde release

release: notebooks

summary: $(STAMP)          ## printable quiz-review summaries (HTML, one per part) in build/summary
	$(BIN)/python -m autograde summary

bench: $(STAMP)            ## every measured figure, written to benchmarks/RESULTS.md
	$(BIN)/python -m benchmarks

data: $(STAMP)             ## regenerate the bundled corpus (fixed seed)
	$(BIN)/python -m autograde.build.datagen.make_data

pretrain: $(STAMP)         ## re-train the bundled tokenizer and weights (about 5 min on a GPU)
	$(BIN)/python -m autograde.build.datagen.pretrain all

clean:
	rm -rf .grading build feedback submitted autograded gradebook.db grades*.csv .pytest_cache
