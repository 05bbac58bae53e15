# Kind workflow for users with Docker (included from the Makefile: `include mk/kind.mk`).
#   make kind-up images kind-load deploy e2e-kind kind-down
# Each target runs one script in scripts/kind/ (settings in scripts/kind/common.sh, all
# overridable: make deploy IMAGE_TAG=1.2.3). Every target checks for a reachable Docker
# engine first and stops with a clear message when there is none.
KIND_SCRIPTS := scripts/kind

.PHONY: kind-up images kind-load deploy e2e-kind kind-down kind-logs kind-all manifests \
	kind-runtime kind-node-image kind-offline-up kind-offline-down test-kind

kind-up: ## kind cluster + gateway + Prometheus; KIND_PROFILE=online (Envoy Gateway, kube-prometheus-stack) or offline (built here: Traefik, Prometheus, metrics-server); auto-detected
	bash $(KIND_SCRIPTS)/kind-up.sh

images: ## build the inference, batch, trainer and controller images (needs Docker)
	bash $(KIND_SCRIPTS)/images.sh

kind-load: ## load the images into the kind cluster (needs Docker)
	bash $(KIND_SCRIPTS)/kind-load.sh

deploy: ## helm upgrade --install the chart into kind, wait for the first champion, helm test
	bash $(KIND_SCRIPTS)/deploy.sh

e2e-kind: ## train v2 -> canary -> promoted; faulty v3 -> rolled back; traffic via the gateway
	bash $(KIND_SCRIPTS)/e2e.sh

test-kind: ## the kind scenarios (pytest -m kind, tests/kind/) from zero: kind-up images kind-load deploy, pytest, kind-down (KEEP_CLUSTER=1 keeps it)
	bash $(KIND_SCRIPTS)/test.sh

kind-logs: ## dump objects, events and pod logs of the kind release to .cache/kind-logs
	bash $(KIND_SCRIPTS)/dump-logs.sh

kind-down: ## delete the kind cluster
	bash $(KIND_SCRIPTS)/kind-down.sh

kind-all: kind-up images kind-load deploy e2e-kind ## everything, from zero to a promoted rollout

manifests: ## re-render k8s/manifests/creditrisk.yaml (plain manifests) from the chart; no Docker needed
	bash $(KIND_SCRIPTS)/render-manifests.sh

# Offline kind (issue 14, step 1): a node image made here from Debian packages and Go
# modules, no registry needed. Caches in ~/.cache/creditrisk-kind (KIND_OFFLINE_CACHE), outside the checkout. See scripts/kind/offline/.
kind-runtime: docker ## register the CAP_SYS_RESOURCE runtime shim with dockerd, only where the host needs it
	bash $(KIND_SCRIPTS)/offline/runtime.sh

kind-node-image: docker ## kind node image built here, offline (Kubernetes from k8s.io/kubernetes; cached)
	bash $(KIND_SCRIPTS)/offline/node-image.sh

kind-offline-up: kind-runtime kind-node-image ## a one-node kind cluster from the offline node image, Ready with CoreDNS
	bash $(KIND_SCRIPTS)/offline/cluster.sh up

kind-offline-down: ## delete the offline kind cluster
	bash $(KIND_SCRIPTS)/offline/cluster.sh down
