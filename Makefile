# The two commands of the README: `make run` and `make test`. Both do all the set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint install migrate demo stop clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --no-input

demo: migrate
	$(BIN)/python manage.py load_published_evidence
	$(BIN)/python manage.py load_demo

run: demo
	@echo "Serving the registry on http://127.0.0.1:8000/admin/ (Ctrl-C to stop)"
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

stop: install
	$(BIN)/python -c "from pathlib import Path; from config import embedded_db; embedded_db.stop(Path('var/pgdata'))"

clean: stop
	rm -rf var
