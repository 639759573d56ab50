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

test: ## everything CI runs: vet, all tests with the race detector, then the SDK's modules
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) test-sdk

test-short: ## unit tests only, no race detector (fast inner loop)
	$(GO) test -short ./...

bench: ## micro-benchmarks beside the code they measure
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./core/...

# Wasm filters built with the standard toolchain (GOOS=wasip1, c-shared): every
# plugins/<name>/ to plugins/<name>/<name>.wasm, plus the examples. The .wasm files
# are committed, so tests and the demo need no build step; this rebuilds them.
WASM_BUILD := GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -ldflags='-s -w'
.PHONY: plugins test-sdk
plugins: ## rebuild the first-party Wasm filters and the example filters
	@set -e; for d in plugins/*/main.go; do n=$$(basename $$(dirname $$d)); \
		(cd plugins && $(WASM_BUILD) -o $$n/$$n.wasm ./$$n); ls -l plugins/$$n/$$n.wasm; done
	cd examples/go-filter && $(WASM_BUILD) -o go-filter.wasm .
	@if command -v wat2wasm >/dev/null; then wat2wasm examples/wat-filter/add-header.wat -o examples/wat-filter/add-header.wasm; \
	else echo "wat2wasm not found (apt-get install wabt): examples/wat-filter/add-header.wasm left as is"; fi

test-sdk: ## the SDK, the first-party plugins and the Go example, natively (their own modules)
	cd sdk && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd plugins && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd examples/go-filter && $(GO) vet ./... && $(GO) test -count=1 ./...

load: build ## direct-to-upstream vs through-the-gateway load run (wrk if installed)
	$(GO) run ./test/load -gateway $(BIN)

lint: ## formatting and vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
