# runbook.rollback: the two commands are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Python output shows up as it happens in CI logs.
export PYTHONUNBUFFERED := 1

.PHONY: help setup lint unit integration molecule test demo demo-down clean bench bench-restore

help:
	@echo "make demo   - install what is missing, run the staging rollback demo, print a summary"
	@echo "make test   - install what is missing, then lint and every test"
	@echo "make setup  - install only (venv, Docker engine, Compose v2, base image); idempotent"
	@echo "make lint   - ansible-lint (production profile) and ruff"
	@echo "make bench  - downtime figures of Procedure A, stop_mode changed vs full"
	@echo "make bench-restore - backup/restore times on a large database, Procedure B downtime (SIZE_MB=300)"
	@echo "make demo-down - remove the local staging stack (keeps .demo/ data)"

setup:
	@bash scripts/setup.sh

lint: setup
	ansible-lint --profile production
	ruff check .

unit: setup
	pytest -q tests/unit

integration: setup
	pytest -q -x --durations=10 tests/integration

# reset first: molecule keeps "already prepared" in a state file keyed on the checkout's path, and
# would skip the drill's prepare on the next run from the same path.
molecule: setup
	molecule reset --scenario-name default
	molecule test --scenario-name default
	molecule reset --scenario-name procedure_b
	molecule test --scenario-name procedure_b
	molecule reset --scenario-name procedure_c
	molecule test --scenario-name procedure_c
	molecule reset --scenario-name procedure_d
	molecule test --scenario-name procedure_d

test: lint unit integration molecule

demo: setup
	python demo/run_demo.py

demo-down:
	@if [ -f .demo/app/docker-compose.prod.yml ]; then \
	  docker compose -p mysaas-staging -f .demo/app/docker-compose.prod.yml down --remove-orphans; fi

clean: demo-down
	rm -rf .demo .collections

# Figures, not tests: downtime of Procedure A per stop mode, with traffic flowing.
bench: setup
	python bench/downtime.py

# Figures, not tests: backup and restore of a large database against plain pg_dump/pg_restore, and
# Procedure B's downtime on a small and a large database, with traffic flowing.
SIZE_MB ?= 300
bench-restore: setup
	python bench/restore.py --size-mb $(SIZE_MB)
