# imscore — every target works on a fresh Debian machine with Go installed (see README.md).
GO       ?= go
BIN      ?= bin
PKGS     ?= ./...
FUZZTIME ?= 10s
# Every main under cmd/ except the shared internal packages.
CMDS     := $(notdir $(patsubst %/,%,$(dir $(wildcard cmd/*/main.go))))

.PHONY: all build test lint fmt vet run bench fuzz clean

all: build

## build: every binary into ./bin
build:
	@mkdir -p $(BIN)
	@for c in $(CMDS); do echo "go build -o $(BIN)/$$c ./cmd/$$c"; CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/$$c ./cmd/$$c || exit 1; done

## test: lint, then every test with the race detector (what CI runs)
test: lint
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

## lint: gofmt and go vet
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

## run: the whole core on loopback with the embedded store
run: build
	@./scripts/run.sh

## bench: Go benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## fuzz: a short run of every fuzz target (FUZZTIME each)
fuzz:
	@./scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf $(BIN)
