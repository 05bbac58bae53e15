# A Docker engine and the platform's images (included from the Makefile).
#   make docker        an engine that answers: a user's own as it is, else Debian's docker.io
#                      installed (root) and dockerd started (scripts/docker/engine.sh)
#   make images        (mk/kind.mk) wheelhouse, base image, the four images
#   make test-containers   only the container tests (pytest -m container)
#   make compose       Docker Compose v2 built from its Go module into .cache/compose (once;
#                      ~25 min cold), also installed as the CLI plugin when none answers
#   make docker-stop   stop the dockerd that `make docker` started (not a user's own)
.PHONY: docker docker-stop compose test-containers bench-containers

docker: ## a Docker engine that answers (installs + starts dockerd only when none does)
	bash scripts/docker/engine.sh

docker-stop: ## stop the dockerd started by `make docker` (a user's own engine is left alone)
	bash scripts/docker/engine.sh --stop

compose: docker ## Docker Compose v2 from its Go module, cached in .cache/compose (~25 min cold, once)
	bash scripts/docker/compose.sh

test-containers: $(STAMP) docker images compose ## the container tests only: the images run as the chart runs them
	$(PYTHON) -m pytest -p no:cacheprovider -q -m container tests/container

bench-containers: $(STAMP) docker images ## image sizes + cold start, container vs process
	$(PYTHON) bench/containers/bench_containers.py
	$(PYTHON) bench/latest.py
