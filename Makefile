# Cartridge. `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
ENV ?= tictactoe
ACTORS ?= 2
export PYTHONUNBUFFERED := 1

.PHONY: help venv run check test test-shuffled lint bench clean up down e2e requirements

help: ## List the targets
	@grep -E '^[a-z][a-z0-9_-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU build of torch first, so the train extra does not pull CUDA wheels.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[train,web,dev]'
	touch $@

venv: $(VENV)/.installed ## Create the virtual environment (torch CPU, onnxruntime, dev tools)

run: venv ## Train locally: trainer + actors on SQLite and ./data/models (ENV=connect4 for Connect Four)
	$(VENV)/bin/cartridge run --env $(ENV)

check: venv ## Integrity checks: perft, tic-tac-toe game count, encoder and symmetry round-trips
	$(VENV)/bin/cartridge check

test: venv ## Run the test suite (starts a PostgreSQL server when none answers)
	$(PY) -m pytest -q

test-shuffled: venv ## The test suite in a random order (SEED=N repeats one), to catch order dependence
	@seed=$${SEED:-$$(( RANDOM * 32768 + RANDOM ))}; \
	echo "test order: --randomly-seed=$$seed (make test-shuffled SEED=$$seed repeats it)"; \
	$(PY) -m pytest -q -o addopts="" --randomly-seed=$$seed

lint: venv ## ruff
	$(VENV)/bin/ruff check libs services tests scripts

bench: venv ## Benchmarks: JSON to stdout and bench/results.json (SECTIONS="selfplay ..." for some)
	$(PY) -m bench $(SECTIONS)

up: ## Container stack: create .env (random secrets) if missing, then compose up with ACTORS=2 actors
	scripts/make-env.sh
	docker compose --profile k8s up --detach --build --scale actor=$(ACTORS)
	@echo "MinIO console http://localhost:9001  Prometheus http://localhost:9090  Grafana http://localhost:3000"

down: ## Stop the container stack (volumes are kept; `docker compose down -v` drops them)
	docker compose --profile k8s --profile orchestrator down

e2e: venv ## Build the images on podman and run the stack: compose up --scale actor=3, checks, teardown
	scripts/e2e.sh

requirements: venv ## Re-pin the images' Python dependencies (requirements/*.txt) from the venv
	$(PY) scripts/lock_requirements.py

clean: ## Remove local data (./data) and caches
	rm -rf data .pytest_cache .ruff_cache
