# rdsbot — build, test and demo targets.
# `make demo` and `make test` are the two commands a new machine needs (README).

GO       ?= go
PKGS     ?= ./...
BIN      ?= bin/rdsbot

.PHONY: githubfake-schemas all build test test-short lint fmt vet staticcheck bench demo gen gen-check validate clean fuzz

all: build

build:
	$(GO) build -o $(BIN) ./cmd/rdsbot

## test: the whole suite (real Postgres: started by the harness when DATABASE_URL is unset).
test:
	$(GO) test -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

## lint: gofmt + go vet + staticcheck (pinned in go.mod as a tool).
lint: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

staticcheck:
	$(GO) tool staticcheck $(PKGS)

## bench: every benchmark once, with ratios printed by the benchmarks themselves.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## demo: the whole flow on embedded defaults.
demo: build
	./$(BIN) sandbox

## gen: regenerate the issue form, dispatch workflow and Backstage template from schemas/.
gen: build
	./$(BIN) gen

gen-check: build
	./$(BIN) gen --check

validate: build
	./$(BIN) validate

fuzz:
	$(GO) test ./pkg/tfvars -run '^$$' -fuzz FuzzUpsert -fuzztime 60s

clean:
	rm -rf bin

## githubfake-schemas: regenerate GitHub's schema subset for pkg/githubfake (npm pack @octokit/openapi, @octokit/webhooks-schemas).
githubfake-schemas:
	$(GO) run ./pkg/githubfake/internal/schemagen -out pkg/githubfake/testdata
