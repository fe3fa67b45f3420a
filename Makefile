# Two commands do all set-up on a fresh machine:
#   make demo   start the local API server and AWS emulator, run the controller, apply examples/
#   make test   every test, end to end included
SHELL := /bin/bash
ENV_DIR ?= $(CURDIR)/.tmp/env
export ENV_DIR
CARGO ?= cargo

.PHONY: test demo stop env build crd lint bench bench-memory bench-restart bench-drift

test: ## Everything: unit, corpus, CLI, end to end (kube-apiserver + moto), Helm chart, Argo CD health.
	@hack/test-env.sh start
	@set -a; source $(ENV_DIR)/env; set +a; \
	  "$$EBI_PYTHON_VENV/bin/python" hack/seed_aws.py 222222222222 >/dev/null && \
	  $(CARGO) test --locked --lib --bins --tests -- --test-threads=6 --nocapture && \
	  "$$EBI_PYTHON_VENV/bin/python" -m pytest -q -rs tests/python; rc=$$?; \
	  hack/test-env.sh stop; exit $$rc

demo: ## Start everything, apply examples/, show what was created. `make stop` ends it.
	@hack/demo.sh

stop: ## Stop the demo's controller and the local test environment.
	@-[ -f .tmp/demo-controller.pid ] && kill $$(cat .tmp/demo-controller.pid) 2>/dev/null; rm -f .tmp/demo-controller.pid
	@hack/test-env.sh stop

env: ## Only start the local API server and emulator (source .tmp/env/env to use them).
	@hack/test-env.sh start

bench: ## Figures: pure core; the controller vs the AWS-call floor with N objects (N=200; N=1000 make bench), latency, memory, a plot; then a restart with 1,000 objects in sync; then drift events (edit -> correction, calls per hour).
	@hack/bench.sh
	@N=$${RESTART_N:-1000} hack/bench_restart.sh
	@N=$${DRIFT_N:-200} hack/bench_drift.sh

bench-drift: ## Hand edit -> correction (p50/p95 over 20 edits) and AWS calls per integration per hour in sync, with and without --drift-events (N=200).
	@hack/bench_drift.sh

bench-restart: ## apply -> Ready while N objects in sync resync after a restart (N=1000; N=10000 make bench-restart), AWS calls/s after it.
	@hack/bench_restart.sh

bench-memory: ## Memory with N=10000 objects in sync (client-side rate limits lifted; minutes, not AWS's hour).
	@hack/bench_memory.sh

build:
	$(CARGO) build --locked

crd: ## Regenerate crds/ (both CRDs, and the chart's copy) from the Rust types.
	$(CARGO) run --locked -q -- crd --only integration > crds/eventbridgeintegrations.eventbridge.dev.yaml
	$(CARGO) run --locked -q -- crd --only policy > crds/eventbridgeintegrationpolicies.eventbridge.dev.yaml
	mkdir -p crds/pre-1.25
	$(CARGO) run --locked -q -- crd --without-cel > crds/pre-1.25/eventbridge.dev.yaml
	cp crds/pre-1.25/eventbridge.dev.yaml charts/eventbridge-integration-controller/crds/

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
