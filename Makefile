# imscore — every target works on a fresh Debian machine with Go installed (see README.md).
GO       ?= go
BIN      ?= bin
PKGS     ?= ./...
FUZZTIME ?= 10s
# Packages whose tests need a kernel with ESP; they run inside the test VM.
IPSEC_PKGS ?= ./sip/ipsec ./services/pcscf
# Every main under cmd/ except the shared internal packages.
CMDS     := $(notdir $(patsubst %/,%,$(dir $(wildcard cmd/*/main.go))))

.PHONY: all build test test-ipsec lint fmt vet run bench bench-allocs bench-allocs-update fuzz clean

all: build

## build: every binary into ./bin
build:
	@mkdir -p $(BIN)
	@for c in $(CMDS); do echo "go build -o $(BIN)/$$c ./cmd/$$c"; CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -o $(BIN)/$$c ./cmd/$$c || exit 1; done

## test: lint, every test with the race detector, then the kernel IPsec tests in the VM (what CI runs)
test: lint
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	@if command -v qemu-system-x86_64 >/dev/null || [ "$$CI" = true ]; then $(MAKE) --no-print-directory test-ipsec; \
	else echo "SKIP test-ipsec: qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"; fi

## test-ipsec: the kernel IPsec tests in a QEMU VM whose kernel has ESP (the host's has none); minutes (the VM has 5 min at most)
## (the script exits 0 pass, 1 fail, 2 setup error, 3 no result from the VM)
test-ipsec:
	./scripts/vmtest.sh $(IPSEC_PKGS)

## lint: gofmt, go vet and go mod tidy -diff
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## run: the whole core on loopback with the embedded store
run: build
	@./scripts/run.sh

## bench: Go benchmarks, HSS Cx MAR/s on both stores, 1M-subscriber bulk provisioning, the whole core under
## SIPp and imsue load stepping up to the best rate under 0.1 % failures (CPU profiles of every node), memory
## per registered UE; writes bench/results/<UTC date>-<commit>/ (docs/benchmarks.md). ~17 min on 2 cores;
## BENCH_QUICK=1 is a ~3 min smoke run. BENCH_SUBSCRIBERS, BENCH_UES, BENCH_STEPS: see docs/benchmarks.md.
bench:
	$(GO) run ./cmd/imsbench --go "$(GO)"

## bench-allocs: fails when a hot-path benchmark allocates more than 10 % per operation over bench/allocs.txt
## or a baselined benchmark is gone (each runs once, -benchtime 100x; about a minute; docs/benchmarks.md)
bench-allocs:
	$(GO) run ./cmd/imsbench allocs --go "$(GO)"

## bench-allocs-update: rewrites bench/allocs.txt from two runs (the higher count; names those that vary)
bench-allocs-update:
	$(GO) run ./cmd/imsbench allocs --update --runs 2 --go "$(GO)"

## fuzz: a short run of every fuzz target (FUZZTIME each)
fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf $(BIN)
