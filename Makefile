# Credit-risk platform — developer and user entry points. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
STAMP := .cache/install.stamp
TOOLS := .tools/bin
export PATH := $(CURDIR)/$(TOOLS):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install lock controlplane demo test test-under-load test-unit e2e-local soak lint fmt bench clean

help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements/dev.lock scripts/install-system-deps.sh scripts/docker/engine.sh scripts/install-checkov.sh
	bash scripts/install-system-deps.sh
	$(PYTHON) -m pip install -q --require-hashes -r requirements/dev.lock
	$(PYTHON) -m pip install -q --no-deps -e .
	bash scripts/install-helm.sh $(TOOLS) >/dev/null
	bash scripts/install-checkov.sh $(TOOLS) >/dev/null
	bash scripts/docker/engine.sh
	@mkdir -p $(@D) && touch $@

install: $(STAMP) ## install Python deps (the hashed lock, then the project editable), Debian servers, helm + kubectl, checkov, Docker

# requirements/dev.lock: every package of pyproject's dev extra (all services + tools) pinned
# with its PyPI hashes; `make install` installs nothing else (--require-hashes). Re-lock after
# editing pyproject's dependencies: versions installed here are kept (constraints) so a
# re-lock adds what is new without moving the rest; LOCK_UPGRADE=1 re-resolves everything.
lock: ## re-pin requirements/dev.lock (hashes) from pyproject.toml
	@mkdir -p .cache
	$(if $(LOCK_UPGRADE),: > .cache/lock-constraints.txt,$(PYTHON) -m pip list --format=freeze --exclude-editable 2>/dev/null | grep -E '^[A-Za-z0-9._-]+==' | grep -viE '^(pip|setuptools|wheel)==' > .cache/lock-constraints.txt)
	$(PYTHON) -m uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 -c .cache/lock-constraints.txt --no-annotate \
	  --custom-compile-command "make lock" -o requirements/dev.lock --quiet

controlplane: $(STAMP) ## build kube-apiserver, controller-manager, scheduler, kwok into .cache/k8s (once)
	bash tests/controlplane/build.sh

demo: $(STAMP) controlplane ## the whole story: train, serve, batch, roll out v2, roll back a faulty v3
	$(PYTHON) scripts/demo.py

test: $(STAMP) controlplane docker images compose ## the whole suite: unit, integration, system and container tests (incl. compose up) against real servers, then the kind scenarios on real kubelets (test-kind)
	$(PYTHON) -m pytest -p no:cacheprovider -q --durations=30
	bash scripts/kind/test.sh

RUNS ?= 3
HOGS ?= 1
test-under-load: $(STAMP) controlplane docker images compose ## the pytest suite RUNS (3) times in a row beside HOGS (1) busy-loop process(es): no timing races → bench/results/suite_under_load.md
	$(PYTHON) bench/suite_under_load.py --runs $(RUNS) --hogs $(HOGS)

test-unit: $(STAMP) ## fast unit tests only
	$(PYTHON) -m pytest -p no:cacheprovider -q -m unit

e2e-local: $(STAMP) controlplane ## the rollout loop on a local control plane + real Prometheus + real pods' processes
	$(PYTHON) -m pytest -p no:cacheprovider -q tests/e2e

soak: $(STAMP) controlplane ## the system suite's heavier variants (10-min soak, more jobs and fuzzing)
	SYSTEM_HEAVY=1 $(PYTHON) -m pytest -p no:cacheprovider -q tests/system

lint: $(STAMP) ## ruff lint + format check + mypy + import layers (pyproject.toml) + shellcheck
	ruff check .
	ruff format --check .
	mypy services controller scripts bench/latest.py
	PYTHONPATH=. lint-imports --no-cache
	shellcheck scripts/*.sh scripts/bench/*.sh scripts/gateway/*.sh scripts/kind/*.sh scripts/kind/offline/*.sh scripts/docker/*.sh deploy/docker/*.sh tests/controlplane/*.sh

fmt: $(STAMP) ## format and auto-fix
	ruff format .
	ruff check --fix .

bench: $(STAMP) ## run every benchmark; JSON + markdown in bench/results/, summary in latest.md
	$(PYTHON) bench/train/bench_training.py
	$(PYTHON) bench/train/quality.py
	scripts/bench/mlserver-venv.sh
	$(PYTHON) bench/inference/bench_inference.py
	$(PYTHON) bench/decisions/bench_decisions.py
	$(PYTHON) bench/batch/bench_batch.py
	$(PYTHON) bench/batch/bench_peers.py
	$(PYTHON) bench/batch/bench_peers.py --chunk-rows 500000 --name batch_peers_500k
	$(PYTHON) bench/controller/bench_controller.py
	$(PYTHON) bench/controller/bench_scale.py --rollouts 50,250,1000
	$(PYTHON) bench/rollout/bench_rollout.py --shadow
	bash scripts/gateway/build-traefik.sh
	$(PYTHON) bench/gateway/bench_mirror.py
	$(PYTHON) bench/gateway/bench_mirror.py --canary-sink --name shadow_mirror_sink
	$(PYTHON) bench/containers/bench_containers.py
	$(PYTHON) bench/latest.py

include mk/kind.mk
include mk/docker.mk
include mk/mutation.mk
include mk/coverage.mk

clean: ## remove local stores and caches (keeps built Kubernetes binaries)
	rm -rf .mlflow .pytest_cache .ruff_cache .mypy_cache .cache/coverage
