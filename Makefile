# rdsbot — build, test and demo targets.
# `make demo` and `make test` are the two commands a new machine needs (README).

GO       ?= go
PKGS     ?= ./...
BIN      ?= bin/rdsbot

.PHONY: githubfake-schemas all build test test-short lint fmt vet staticcheck bench demo gen gen-check validate clean fuzz \
	rds-init rds-plan rds-apply rds-provision rds-provision-dry-run rds-provision-auto rds-provision-auto-dry-run \
	rds-deploy apply bootstrap deploy

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

# ---------------------------------------------------------------------------
# RDS: Terraform and Postgres provisioning for one environment (README,
# "Provisioning"). Coupled mode: `make deploy ENV=test BUILD_ID=...` runs
# apply, rds-provision-auto and bootstrap in that order.

ENV             ?= dev
RDS_MODE        ?= auto
BUILD_ID        ?=
RUN_ID          ?= local
# Secret store for `rdsbot provision`: aws (SDK configuration) or file:DIR.
SECRETS         ?= aws
# Extra flags for `rdsbot provision`, e.g. --host ... --sslmode verify-full --sslrootcert rds-ca.pem
PROVISION_FLAGS ?=
TF_AUTO_APPROVE ?= true
# A prebuilt rdsbot; empty builds $(BIN) first.
RDSBOT          ?=
# The platform bootstrap run after provisioning (make deploy); empty skips it.
BOOTSTRAP       ?=
TF              ?= $(shell command -v terraform 2>/dev/null || command -v tofu 2>/dev/null)

ENV_DIR         = envs/$(ENV)
RDS_ENV_DIR     = envs/$(ENV)-rds
RDS_AUDIT       = governance/$(ENV)/rds_provision_audit.csv
TF_APPROVE_FLAG = $(if $(filter true,$(TF_AUTO_APPROVE)),-auto-approve,)
SELF            = $(abspath $(firstword $(MAKEFILE_LIST)))
rdsbot_cmd      = $(if $(RDSBOT),$(RDSBOT),./$(BIN))
rdsbot_dep      = $(if $(RDSBOT),,build)
provision_args  = provision --env $(ENV) --secrets $(SECRETS) --run-id $(RUN_ID) \
	$(if $(BUILD_ID),--build-id $(BUILD_ID),) $(PROVISION_FLAGS)

define need_terraform
	@if [ -z "$(TF)" ]; then \
		echo "$@: terraform (or tofu) is not installed; install one, or set TF=/path/to/terraform"; exit 1; fi
endef

define need_dir
	@if [ ! -d "$(1)" ]; then \
		echo "RDS environment directory not found: $(1)"; echo "Available:"; ls -d envs/*/ 2>/dev/null | sed 's/^/  /'; exit 1; fi
endef

rds-init:
	$(call need_dir,$(RDS_ENV_DIR))
	$(need_terraform)
	$(TF) -chdir=$(RDS_ENV_DIR) init

rds-plan:
	$(call need_dir,$(RDS_ENV_DIR))
	$(need_terraform)
	$(TF) -chdir=$(RDS_ENV_DIR) plan

rds-apply:
	$(call need_dir,$(RDS_ENV_DIR))
	$(need_terraform)
	@echo "Note: deletion protection and prevent_destroy stay on; nothing here removes a database."
	$(TF) -chdir=$(RDS_ENV_DIR) apply $(TF_APPROVE_FLAG)

## rds-provision: roles, databases and grants from the standalone tfvars (non-dev: ALLOW_DB_PROVISION=true).
rds-provision: $(rdsbot_dep)
	$(rdsbot_cmd) $(provision_args) --mode standalone --audit-output $(RDS_AUDIT)

rds-provision-dry-run: $(rdsbot_dep)
	$(rdsbot_cmd) $(provision_args) --mode standalone --dry-run

## rds-provision-auto: coupled when rds_config.enabled = true in envs/$(ENV)/terraform.tfvars, else standalone (RDS_MODE=coupled|standalone forces one).
rds-provision-auto: $(rdsbot_dep)
	$(rdsbot_cmd) $(provision_args) --mode $(RDS_MODE) --audit-output $(RDS_AUDIT)

rds-provision-auto-dry-run: $(rdsbot_dep)
	$(rdsbot_cmd) $(provision_args) --mode $(RDS_MODE) --dry-run

## rds-deploy: the standalone root end to end.
rds-deploy: rds-init rds-apply
	$(MAKE) -f $(SELF) rds-provision-auto RDS_MODE=standalone

## apply: the coupled root (the cluster build, RDS included when rds_config.enabled = true).
apply:
	$(call need_dir,$(ENV_DIR))
	$(need_terraform)
	$(TF) -chdir=$(ENV_DIR) init -input=false
	$(TF) -chdir=$(ENV_DIR) apply $(TF_APPROVE_FLAG)

bootstrap:
	@if [ -n "$(BOOTSTRAP)" ]; then echo "bootstrap: $(BOOTSTRAP)"; $(BOOTSTRAP); \
	else echo "bootstrap: nothing configured (set BOOTSTRAP=<command>)"; fi

## deploy: apply, then provision the databases, then bootstrap: the coupled path in one command.
deploy:
	$(MAKE) -f $(SELF) apply
	$(MAKE) -f $(SELF) rds-provision-auto
	$(MAKE) -f $(SELF) bootstrap
