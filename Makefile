# diffgate — every entry point. `make help` lists them.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -o errexit -o nounset -o pipefail -c
.DEFAULT_GOAL := help

export PATH := $(shell go env GOPATH)/bin:/usr/local/go/bin:$(PATH)
export NATS_URL ?= nats://127.0.0.1:4222

MODULES := $(shell ./scripts/modules.sh)
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.8.2

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every binary into bin/
	@mkdir -p $(BIN)
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./apps/diffgate ./apps/github/cmd/... ./apps/gitlab/cmd/... ./workers/cmd/...

.PHONY: test
test: ## run every module's tests with -race (needs NATS, PostgreSQL, MariaDB: see README)
	@for m in $(MODULES); do \
		echo "== $$m"; \
		(cd $$m && go test -race -count=1 -timeout 20m ./...) || exit 1; \
	done

.PHONY: test-short
test-short: ## run the tests that need no services
	@for m in $(MODULES); do (cd $$m && go test -short -count=1 ./...) || exit 1; done

.PHONY: bench
bench: ## run the benchmarks and print their figures
	@for m in $(MODULES); do \
		echo "== $$m"; \
		(cd $$m && go test -run '^$$' -bench . -timeout 60m ./...) | grep -v '^[[:space:]]*{"level"' || exit 1; \
	done

.PHONY: lint
lint: tools ## gofmt, go vet and staticcheck over every module
	@bad=$$(gofmt -l $(MODULES)); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && go vet ./... && staticcheck ./...) || exit 1; done
	@./scripts/check-modules.sh
	@./scripts/check-dockerfile.sh

.PHONY: chart
chart: ## lint and test the Helm chart
	helm lint charts/diffgate
	cd charts/diffgate/test && go test -race -count=1 ./...

.PHONY: tools
tools: ## install the lint tools
	@command -v staticcheck >/dev/null || go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

.PHONY: tidy
tidy: ## go mod tidy in every module, then go work sync
	@for m in $(MODULES); do (cd $$m && go mod tidy) || exit 1; done
	go work sync

.PHONY: demo
demo: ## run the whole pipeline on a sample project, locally, and print the PR comment
	go run ./apps/diffgate demo

.PHONY: docs
docs: ## regenerate docs/config-reference.md from the config types
	go run ./apps/diffgate config-reference > docs/config-reference.md

.PHONY: clean
clean: ## remove build output
	rm -rf $(BIN)
