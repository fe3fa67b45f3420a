# Two commands do all set-up on a fresh machine:
#   make demo   start the local API server and AWS emulator, run the controller, apply examples/
#   make test   every test, end to end included
SHELL := /bin/bash
ENV_DIR ?= $(CURDIR)/.tmp/env
export ENV_DIR
CARGO ?= cargo

.PHONY: test demo stop env build crd lint

test: ## Everything: unit, corpus, CLI, and end-to-end against kube-apiserver + moto.
	@hack/test-env.sh start
	@set -a; source $(ENV_DIR)/env; set +a; \
	  "$$EBI_MOTO_VENV/bin/python" hack/seed_aws.py >/dev/null && \
	  $(CARGO) test --locked --all-targets -- --test-threads=6; rc=$$?; \
	  hack/test-env.sh stop; exit $$rc

demo: ## Start everything, apply examples/, show what was created. `make stop` ends it.
	@hack/demo.sh

stop: ## Stop the demo's controller and the local test environment.
	@-[ -f .tmp/demo-controller.pid ] && kill $$(cat .tmp/demo-controller.pid) 2>/dev/null; rm -f .tmp/demo-controller.pid
	@hack/test-env.sh stop

env: ## Only start the local API server and emulator (source .tmp/env/env to use them).
	@hack/test-env.sh start

build:
	$(CARGO) build --locked

crd: ## Regenerate crds/ from the Rust types.
	$(CARGO) run --locked -q -- crd > crds/eventbridgeintegrations.eventbridge.dev.yaml

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
