# Everyday commands. `make help` lists them. The local stack needs Docker, the Pulumi CLI and
# Go; the staging commands need AWS credentials and the staging state backend (see README).
SHELL := /usr/bin/env bash
.DEFAULT_GOAL := help

STACK ?= local
export STACK

# Pinned linters, built from the Go module proxy on first use.
GOLANGCI_LINT := go run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
ACTIONLINT := go run github.com/rhysd/actionlint/cmd/actionlint@v1.7.12

.PHONY: help up preview down destroy db-dump db-restore e2e test bench golden lint preview-staging

help: ## List the commands
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-16s %s\n", $$1, $$2}'
	@echo "  (STACK=name picks another local stack; default: local)"

up: ## Bring the local stack up on Docker (creates it on first use)
	@scripts/local.sh up

preview: ## Show what `make up` would change in the local stack
	@scripts/local.sh preview

down: ## Remove the local stack's containers and network; keep its data volumes and credentials
	@scripts/local.sh down

destroy: ## Delete the local stack: containers, credentials, data volumes and images
	@scripts/local.sh destroy

db-dump: ## Dump the local stack's database to FILE (default: backups/<stack>-<UTC time>.sql)
	@scripts/db.sh dump $(FILE)

db-restore: ## Load FILE, a dump from make db-dump, into the local stack's database (it dumps what it replaces first)
	@scripts/db.sh restore $(FILE)

e2e: ## The local stack end to end, as the pull-request job runs it: up, down, up, destroy, nothing left (STACK default e2e-local)
	@STACK=$(if $(filter command line environment,$(origin STACK)),$(STACK),e2e-local) scripts/e2e.sh local

test: ## Run the test suite (the same command CI runs)
	go test ./...

bench: ## Time the program's build for local stacks against the whole program, cold and warm, and the tests; ARGS=-up times make up too
	go run ./cmd/bench $(ARGS)

golden: ## Regenerate the golden files and the README's generated sections after an intended change
	go test . -run 'Golden|Docs' -update

lint: ## Lint the Go code (golangci-lint), the workflows (actionlint) and the scripts (shellcheck)
	$(GOLANGCI_LINT) run ./...
	$(ACTIONLINT)
	@if command -v shellcheck >/dev/null; then shellcheck -x scripts/*.sh .ci/run; \
	else echo "shellcheck is not installed: scripts not checked (CI checks them)"; fi

preview-staging: ## Preview staging and run the destructive-change guard (AWS credentials and backend needed)
	@PULUMI_STACK=$${PULUMI_STACK:-staging} scripts/ci.sh preview
