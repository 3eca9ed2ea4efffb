# runbook.rollback: the two commands are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Python output shows up as it happens in CI logs.
export PYTHONUNBUFFERED := 1
# Bytecode is written (into .venv and the checkout, both ignored by git): uv installs none, and with
# PYTHONDONTWRITEBYTECODE set (as some CI images do) every ansible-playbook, worker and pytest process
# compiled Ansible from source again: 0.7 s more per playbook start, and more per task.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help setup venv images lint sanity unit checks integration late faults molecule remote lane test demo demo-down clean bench bench-restore

help:
	@echo "make demo   - install what is missing, run the staging rollback demo, print a summary"
	@echo "make test   - install what is missing, then lint and every test"
	@echo "make setup  - install only (venv, Docker engine, Compose v2, base image); idempotent"
	@echo "make lint   - ansible-lint (production profile) and ruff (needs the venv only, no engine)"
	@echo "make sanity - ansible-test sanity on the collection as Galaxy ships it (needs the venv only)"
	@echo "make unit   - ansible-test units on the collection as shipped, and the tooling's tests (venv only)"
	@echo "make faults - the fault matrix: every fault caused for real, and whether it was survived"
	@echo "make remote - the procedures against a target host of its own (own engine), reached over SSH"
	@echo "make bench  - downtime figures of Procedure A, stop_mode changed vs full"
	@echo "make bench-restore - backup/restore times on a large database, Procedure B downtime (SIZE_MB=300)"
	@echo "make demo-down - remove the local staging stack (keeps .demo/ data)"

# Each phase's time is printed when it ends and, when RUNBOOK_PHASES names a file, recorded there:
# .ci/run prints every phase's time at the end of a run, pass or fail (scripts/phases.py).
PHASE := python3 scripts/phases.py
# pytest's JUnit files (each test's time) go to RUNBOOK_JUNIT when it is set, for the same table.
junit = $(if $(RUNBOOK_JUNIT),--junitxml=$(RUNBOOK_JUNIT)/$(1).xml)
DRILLS := procedure_b default procedure_c procedure_d
# Integration workers (two: a third made each test 44 % slower for 6 % more done; the run is CPU-bound)
# and drill lanes when the drills run alone (`make molecule`).
WORKERS ?= 2
LANES ?= 2
# What the stacks need first; empty when `make test` has already made it.
IMAGES ?= images

setup:
	@$(PHASE) start setup
	@bash scripts/setup.sh
	@$(PHASE) end setup

# The venv alone: what lint and the unit tests need (no Docker engine, no image, no browser).
venv:
	@$(PHASE) start venv
	@bash scripts/setup.sh venv
	@$(PHASE) end venv

# Every staging release's images, built once per run (cached: seconds when nothing changed) and shared
# by every stack of the tests, the drills, the demo and the benchmarks.
images: setup
	@$(PHASE) start images
	python demo/images.py
	@$(PHASE) end images

lint: venv
	@$(PHASE) start lint
	ansible-lint --profile production
	ruff check .
	antsibull-changelog lint
	@$(PHASE) end lint

# ansible-test sanity on the collection as Galaxy ships it (scripts/ansible_test.sh: offline but for PyPI).
sanity: venv
	@$(PHASE) start sanity
	bash scripts/ansible_test.sh sanity
	@$(PHASE) end sanity

# The collection's unit tests as Galaxy ships them, through ansible-test (scripts/ansible_test.sh), then the
# tests of the repository's own tooling (tests/tooling: CI scripts, the staging app's probe, the tarball).
unit: venv
	@$(PHASE) start unit
	bash scripts/ansible_test.sh units
	pytest -q -n 2 -p no:cacheprovider $(call junit,tooling) tests/tooling
	@$(PHASE) end unit

# ansible-test's sanity and units at the same time: sanity waits on pip for most of its first minute (a
# virtual environment per test), which the unit tests fill; 2 min 00 s for both against 2 min 45 s one
# after the other, measured here with sanity's environments present.
checks: venv
	@$(MAKE) --no-print-directory -j2 --output-sync=target sanity unit

# The integration and fault modules on $(WORKERS) workers, a module per worker at a time, heaviest first
# (tests/conftest.py; --no-loadscope-reorder, or xdist would order them by their number of tests instead);
# the run ends with the fault matrix.
integration: $(IMAGES)
	@$(PHASE) start integration
	pytest -q -x -n $(WORKERS) --dist loadfile --no-loadscope-reorder --durations=10 $(call junit,integration) $(addprefix --ignore=,$(LATE)) tests/integration tests/faults
	@$(PHASE) end integration

# Integration modules `make test` moves out of the integration run (LATE) and runs at the end of its second lane, one
# after another: that lane ends minutes before the integration run (modules with fault tests stay in the run, whose
# end prints the fault matrix).
LATE ?=
late:
	@$(PHASE) start late
	pytest -q -x -p no:cacheprovider --durations=5 $(call junit,late) $(LATE)
	@$(PHASE) end late

# The fault matrix alone: the fault modules and the integration modules that hold fault tests.
faults: $(IMAGES)
	pytest -q -n $(WORKERS) --dist loadfile --no-loadscope-reorder --fault-modules tests/integration tests/faults

# The drills $(LANES) at a time, longest first; each drill's output printed whole when it ends.
molecule: $(IMAGES)
	@$(PHASE) start molecule
	python3 scripts/drills.py --lanes $(LANES) $(DRILLS)
	@$(PHASE) end molecule

# The procedures against target hosts of their own, each a container with its own Docker engine reached over
# SSH (tests/remote, tests/integration/target.py): one module at a time, since each target runs a stack.
remote: $(IMAGES)
	@$(PHASE) start remote
	pytest -q -x -p no:cacheprovider --durations=5 $(call junit,remote) tests/remote
	@$(PHASE) end remote

# The second lane of `make test`: the drills, then the remote targets, one after the other. Both mostly wait
# (traffic, sampling windows, health, SSH round trips), beside the integration run's two busy workers.
lane:
	@$(MAKE) --no-print-directory molecule
	@$(MAKE) --no-print-directory remote
	@$(if $(LATE),$(MAKE) --no-print-directory late LATE="$(LATE)")

# Lint, ansible-test's sanity and unit tests (beside each other), then the integration modules and the drills at
# the same time: the integration run keeps the two cores nearly busy, a drill mostly waits (traffic, sampling
# windows, health), so one drill lane beside two integration workers fills what they leave. Each target's
# output is printed whole when it ends. Lint beside the unit tests was tried: on two cores it saved nothing
# (2 min 05 s to 2 min 35 s for both, against about 2 min 30 s one after the other), and a lint error no longer
# ended the run at once. The checks at the head of the drills' lane were tried too: sanity and unit took 7 min
# 41 s there instead of 3 min, the drills 21 min 26 s instead of 17 min 30 s, and the integration run slowed.
# The second app's module (test_second_app, about 4 min) ends the second lane: measured, the drills and the remote
# targets took 26 min 35 s beside an integration run of 31 min 54 s.
test: lint checks images
	@$(MAKE) --no-print-directory -j2 --output-sync=target integration lane LANES=1 IMAGES= LATE=tests/integration/test_second_app.py

demo: images
	python demo/run_demo.py

demo-down:
	@# The monitoring first: it holds the app's network and volume. Nothing of it may be left (or no engine): quiet.
	@APP_PROJECT=mysaas-staging docker compose -p mysaas-staging-monitoring -f demo/monitoring/compose.yml \
	  down 2>/dev/null || true
	@if [ -f .demo/app/docker-compose.prod.yml ]; then \
	  docker compose -p mysaas-staging -f .demo/app/docker-compose.prod.yml down --remove-orphans; fi

clean: demo-down
	rm -rf .demo .collections

# Figures, not tests: what users see of a rollback, as a race of the runbook's literal commands against the
# procedures' ways (A, B, C), with traffic flowing; ROUNDS rounds (about 10 minutes each).
ROUNDS ?= 3
bench: images
	python bench/downtime.py --rounds $(ROUNDS)

# Figures, not tests: backup and restore of a large database against plain pg_dump/pg_restore, and
# Procedure B's downtime on a small and a large database, with traffic flowing.
SIZE_MB ?= 300
bench-restore: images
	python bench/restore.py --size-mb $(SIZE_MB)

# The execution environment's build context (execution-environment.yml) in .ee/context: the collection built,
# then ansible-builder create. Offline; `ansible-builder build` on it needs the network its stages download from.
ee: venv
	rm -rf .ee && ansible-galaxy collection build --force --output-path .ee .
	mv .ee/runbook-rollback-*.tar.gz .ee/runbook-rollback.tar.gz
	ansible-builder create -f execution-environment.yml -c .ee/context
