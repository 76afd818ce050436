# qrsync — `make run` serves the app on the embedded defaults; `make test`
# installs what the tests need (when run as root) and runs every test.

GO      ?= go
GOROOT  := $(shell $(GO) env GOROOT)
STATIC  := web/static
WASM    := $(STATIC)/app.wasm
BIN     := bin/qrsync

.PHONY: all build wasm run cluster test test-deps bench-deps vet bench bench-all clean

all: build

# The wasm client and its loader are build outputs (gitignored). The loader
# must come from the same Go as the .wasm, so it is copied, not committed.
# Then every static asset gets its brotli and gzip variants (also outputs),
# which the server sends to browsers that take them (server/pages.go).
wasm:
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o $(WASM) ./wasm
	cp "$(GOROOT)/lib/wasm/wasm_exec.js" $(STATIC)/wasm_exec.js
	$(GO) run ./internal/precompress $(STATIC)

build: wasm
	$(GO) build -trimpath -o $(BIN) ./cmd/qrsync

run: build
	./$(BIN) $(ARGS)

# Two instances on Redis and S3 behind nginx, all on loopback, until Ctrl-C
# (docs/scale-out.md). CLUSTER_PORT and CLUSTER_DIR pass through.
cluster: build
	QRSYNC_BIN="$(CURDIR)/$(BIN)" ./scripts/cluster.sh

test-deps:
	./scripts/test-deps.sh

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./wasm/... ./internal/benchtable/streamonly ./eventsource/... ./api ./internal/ssecheck

test: test-deps wasm vet
	$(GO) test -race -timeout 30m ./...

bench-deps:
	./scripts/bench-deps.sh

# The speed figures beside their same-run references and goals, as one
# Markdown table (BENCHMARKS.md); ARGS="-short" for a quick look,
# ARGS="-only fanout" for one group. Every benchmark: bench-all.
bench: test-deps bench-deps wasm
	$(GO) run ./internal/benchtable $(ARGS)

bench-all: bench-deps wasm
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

clean:
	rm -rf bin $(WASM) $(STATIC)/wasm_exec.js test-output
	rm -f $(STATIC)/*.br $(STATIC)/*.gz $(STATIC)/precompress.sums
