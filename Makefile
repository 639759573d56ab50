# wasmgate — the two commands that matter: `make run` and `make test`.
GO      ?= go
BIN     := bin/wasmgate
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build run test test-short bench load lint fmt clean

build: ## the gateway binary in bin/
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/wasmgate

run: ## the embedded demo on 127.0.0.1:8080
	$(GO) run ./cmd/wasmgate serve

test: ## everything CI runs: vet, then all tests with the race detector
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

test-short: ## unit tests only, no race detector (fast inner loop)
	$(GO) test -short ./...

bench: ## micro-benchmarks beside the code they measure
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./core/...

load: build ## direct-to-upstream vs through-the-gateway load run (wrk if installed)
	$(GO) run ./test/load -gateway $(BIN)

lint: ## formatting and vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
