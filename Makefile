# The targets a contributor and CI run. `make test` is the one command that
# runs every test (README.md); .ci/run calls exactly it.

GO ?= go

.PHONY: test check fuzz interop-deps serve bench demo soak

## test: install the interop suite's npm packages, check formatting and vet, run every test with -race, then fuzz briefly
test: interop-deps check
	$(GO) test -race -count=1 ./...
	$(MAKE) --no-print-directory fuzz

# FUZZ_TARGETS are the fuzz targets `make fuzz` runs, as package:Target.
# Their seed corpora are in each package's testdata/fuzz/<Target>; every
# `go test` runs the seeds, `make fuzz` mutates them.
FUZZ_TARGETS = \
	./runtime/bayeux:FuzzDecode \
	./runtime:FuzzProcess \
	./runtime:FuzzHTTP \
	./runtime:FuzzWebSocket \
	./schema:FuzzLoad \
	./runtime/validate:FuzzFastPath \
	./internal/loadtest:FuzzParseFrame

## fuzz: run each fuzz target for FUZZTIME (default 3s; `make fuzz FUZZTIME=10m` for a long run)
FUZZTIME ?= 3s
fuzz:
	@log=$$(mktemp); trap 'rm -f $$log' EXIT; \
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; start=$$(date +%s); \
		if ! $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg >$$log 2>&1; then \
			cat $$log; echo "FAIL fuzz $$pkg $$name (a new failing input is written to $$pkg/testdata/fuzz/$$name)"; exit 1; \
		fi; \
		echo "ok   fuzz $$pkg $$name $(FUZZTIME) ($$(( $$(date +%s) - start ))s with the build)"; \
	done

## check: gofmt and go vet
check:
	@out="$$(gofmt -l $$(git ls-files '*.go' | grep -v '^testdata/'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## interop-deps: the CometD JavaScript client and Faye, pinned by interop/package-lock.json
interop-deps:
	npm ci --prefix interop --no-audit --no-fund --loglevel=error

## demo: the README's first command: scaffold the chat archetype into a fresh directory, build it, start it
demo:
	$(GO) run ./cmd/cometgen new --template chat --run "$$(mktemp -d)/chat"

## serve: run an open-relay Bayeux server on 127.0.0.1:8080
serve:
	$(GO) run ./cmd/cometgen serve

## bench: the fan-out micro-benchmarks (see docs/performance.md for the end-to-end load runs)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./runtime/

## soak: the long fault and soak run of docs/reliability.md (SOAK=30m by default)
SOAK ?= 30m
soak:
	$(GO) test -count=1 -v -run TestSoak -timeout 2h ./internal/soak -soak $(SOAK)
