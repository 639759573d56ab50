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
# plugins/<name>/ to plugins/<name>/<name>.wasm, plus the examples (Go, WAT,
# AssemblyScript with npm, C with clang + wasi-libc) and the conformance guests;
# a missing toolchain leaves its committed .wasm as is. The .wasm files
# are committed, so tests and the demo need no build step; this rebuilds them.
WASM_BUILD := GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -ldflags='-s -w'
.PHONY: plugins test-sdk
plugins: ## rebuild the first-party Wasm filters and the example filters
	@set -e; for d in plugins/*/main.go; do n=$$(basename $$(dirname $$d)); \
		(cd plugins && $(WASM_BUILD) -o $$n/$$n.wasm ./$$n); ls -l plugins/$$n/$$n.wasm; done
	cp plugins/json-validate/json-validate.wasm cmd/wasmgate/demo/json-validate.wasm # embedded in the demo
	cd examples/go-filter && $(WASM_BUILD) -o go-filter.wasm .
	cd cmd/wasmgate/testdata/probe && $(WASM_BUILD) -o probe.wasm . # the guest of the plugin test tests
	@set -e; for d in test/conformance/guests/*/main.go; do n=$$(basename $$(dirname $$d)); \
		(cd test/conformance/guests && $(WASM_BUILD) -o $$n/$$n.wasm ./$$n); done
	@set -e; for d in examples/go-sdk/*/main.go; do n=$$(basename $$(dirname $$d)); \
		(cd examples/go-sdk && $(WASM_BUILD) -o $$n/$$n.wasm ./$$n); done
	@if command -v wat2wasm >/dev/null; then wat2wasm examples/wat-filter/add-header.wat -o examples/wat-filter/add-header.wasm; \
	else echo "wat2wasm not found (apt-get install wabt): examples/wat-filter/add-header.wasm left as is"; fi
	@if command -v npm >/dev/null; then cd examples/assemblyscript && npm ci --no-audit --no-fund && npm run asbuild; \
	else echo "npm not found: examples/assemblyscript/*/*.wasm left as is"; fi
	@if command -v clang >/dev/null && test -f /usr/lib/wasm32-wasi/libc.a; then examples/c-filter/build.sh; \
	else echo "clang or wasi-libc not found (apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32): examples/c-filter/*.wasm left as is"; fi
	@if command -v wat2wasm >/dev/null; then for f in test/conformance/testdata/*.wat; do wat2wasm $$f -o $${f%.wat}.wasm; done; \
	else echo "wat2wasm not found: test/conformance/testdata/*.wasm left as is"; fi

test-sdk: ## the SDK, the first-party plugins and the Go examples, natively (their own modules)
	cd sdk && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && $(GO) test -race -count=1 ./...
	@# upstream SDK examples, ported by changing imports: each test runs natively and in its main.wasm
	cd sdk/examples && $(GO) vet ./... && for d in */; do $(WASM_BUILD) -o $$d/main.wasm ./$$d || exit 1; done && $(GO) test -count=1 ./...
	cd plugins && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && $(GO) test -race -count=1 ./...
	cd examples/go-filter && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd examples/go-sdk && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./...

# Each fuzzer for FUZZTIME (CI runs only their checked-in seed corpora, through
# plain `go test`). A finding is written to the package's testdata/fuzz/: keep it
# there as a seed, with its fix.
FUZZTIME ?= 60s
FUZZERS := ./core/server:FuzzFramingAgreesWithNetHTTP ./core/config:FuzzParse ./core/router:FuzzCanonicalize ./core/router:FuzzRouteProtectedPrefix \
	./test/hardening:FuzzRawHTTP1 ./filters/jwt:FuzzVerify ./filters/wasm:FuzzHostFunctions ./filters/wasm/internal/instrument:FuzzRewrite
.PHONY: fuzz
fuzz: ## run every fuzzer for FUZZTIME (default 60s) each
	@set -e; for f in $(FUZZERS); do pkg=$${f%%:*}; name=$${f##*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; done

load: build ## direct-to-upstream vs through-the-gateway load run (wrk if installed)
	$(GO) run ./test/load -gateway $(BIN)

lint: ## formatting and vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
