# Developer entry points: `make run` to try the blog, `make test` before pushing.
PYTHON ?= python3
VENV = .venv
BIN = $(VENV)/bin
PORT ?= 5000
BENCH_STACK ?= embedded
# Touched after each install, so the venv is rebuilt only when requirements.txt changes.
STAMP = $(VENV)/.installed

.PHONY: venv run test bench requirements pygments-css clean

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.txt
	touch $@

# The embedded stack (SQLite, SqliteHuey) unless the environment or .env says otherwise.
run: export BLOG_ENV ?= development
run: venv
	$(BIN)/flask --app wsgi db upgrade
	$(BIN)/flask --app wsgi seed-db --if-empty
	@echo "Blog running at http://127.0.0.1:$(PORT)/"
	@echo "Demo admin login: admin@example.com / admin-demo-password"
	@# honcho runs Procfile lines through /bin/sh: gunicorn and huey_consumer must be on PATH.
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -p $(PORT)

# Unit tests and the browser tests (pytest.ini: testpaths = tests e2e) on every core
# (pytest-xdist; PYTEST_WORKERS=0 runs in one process); PYTEST_ARGS passes options.
PYTEST_WORKERS ?= auto
test: venv
	bash scripts/ensure-browser.sh
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Load benchmark (README "Speed"): seeds 10,000 posts / 100,000 comments in a scratch database,
# runs wrk against gunicorn (workers = cores) and a bare Flask app; installs wrk if missing.
# BENCH_STACK=prod: PostgreSQL + Redis on 127.0.0.1. BENCH_ARGS: e.g. --duration 10 --posts 1000.
bench: venv
	BENCH_STACK=$(BENCH_STACK) $(BIN)/python scripts/bench_load.py $(BENCH_ARGS)

# Pin requirements.in into requirements.txt without leaking this machine's index paths.
requirements: venv
	test -x $(BIN)/pip-compile || $(BIN)/pip install pip-tools
	$(BIN)/pip-compile --no-emit-index-url --no-emit-find-links --strip-extras -o requirements.txt requirements.in

# Through a temp file, so a failing script cannot leave an empty stylesheet behind.
pygments-css: venv
	$(BIN)/python scripts/pygments_css.py > static/css/pygments.css.tmp
	mv static/css/pygments.css.tmp static/css/pygments.css

# Build and test leftovers; instance/ holds your data and is left alone.
clean:
	rm -rf $(VENV) .pytest_cache test-results
	find . -name __pycache__ -type d -prune -not -path "./.git/*" -exec rm -rf {} +
