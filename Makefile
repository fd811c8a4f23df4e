# openvino.ovms: set-up, tests and the main job. Every target installs what it needs by itself:
# a virtual environment (cached by the hash of requirements.txt) and the cluster binaries (built from
# Go module sources), both under $(OVMS_CACHE_DIR), outside the repository.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
OVMS_CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/openvino-ovms
export OVMS_CACHE_DIR
PY_TAG := $(shell $(PYTHON) -c 'import sys; print("py%d%d" % sys.version_info[:2])')
REQ_HASH := $(shell sha256sum requirements.txt | cut -c1-12)
VENV ?= $(OVMS_CACHE_DIR)/venv-$(PY_TAG)-$(REQ_HASH)
# Release tooling (galaxy-importer, antsibull-changelog) in a venv of its own, keyed by both requirements files.
RELEASE_HASH := $(shell cat requirements.txt requirements-release.txt | sha256sum | cut -c1-12)
RELEASE_VENV ?= $(OVMS_CACHE_DIR)/venv-release-$(PY_TAG)-$(RELEASE_HASH)
export RELEASE_VENV
# Ansible finds this checkout as the collection openvino.ovms through a per-checkout symlink.
COLLECTIONS_DIR := $(shell $(PYTHON) tools/collection_path.py)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_DIR)
export PATH := $(VENV)/bin:$(PATH)
export PYTHONPATH := $(CURDIR)/tools:$(COLLECTIONS_DIR)
PYTEST_ARGS ?=

.PHONY: help
help:
	@echo "make deploy          deploy the sample model server (to KUBECONFIG, or to the local control plane)"
	@echo "make test            install everything needed, then run unit, integration and molecule tests"
	@echo "make test-unit       unit tests only (no cluster)"
	@echo "make test-integration  pytest against the local control plane (or OVMS_TEST_CLUSTER=existing)"
	@echo "make test-molecule   molecule test (MOLECULE_CLUSTER=local|existing|kind)"
	@echo "make matrix-venvs    build the compatibility matrix's venvs (ansible-core x kubernetes library)"
	@echo "make cluster-up      build (if needed) and start the local control plane; prints KUBECONFIG"
	@echo "make cluster-down    stop the local control plane started by cluster-up"
	@echo "make bench           benchmarks side by side with kubernetes.core.k8s and kubectl -> docs/benchmarks.md"
	@echo "make lint            ansible-lint (production profile)"
	@echo "make sanity          ansible-test sanity on the checkout's plugins (builds its own venvs from PyPI, cached)"
	@echo "make release         build the tarball into dist/, check its file list, galaxy-importer, ansible-test sanity on it"
	@echo "make changelog       add changelogs/fragments to galaxy.yml's version in changelog.yaml; regenerate CHANGELOG.rst"
	@echo "make docs            regenerate the module's option docs from the schema"
	@echo "make venv            only create the virtual environment: $(VENV)"

# The venv's path carries the hash of requirements.txt, so it is reused by every checkout (a fresh clone too) with
# the same requirements; no prerequisite, since file times say nothing about a fresh clone. One creator at a time.
$(VENV)/.installed:
	@mkdir -p $(OVMS_CACHE_DIR)
	@flock $(VENV).lock bash -c 'test -e $@ && exit 0; \
	  echo "[make] creating the virtual environment $(VENV) from requirements.txt (a minute or two)"; \
	  rm -rf $(VENV) && $(PYTHON) -m venv $(VENV) && \
	  $(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt && touch $@'

.PHONY: venv
venv: $(VENV)/.installed

# No prerequisite: the directory's name carries the hash of both requirements files.
$(RELEASE_VENV)/.installed:
	@mkdir -p $(OVMS_CACHE_DIR)
	@flock $(RELEASE_VENV).lock bash -c 'test -e $@ && exit 0; \
	  echo "[make] creating the release tooling virtual environment $(RELEASE_VENV) from requirements-release.txt"; \
	  rm -rf $(RELEASE_VENV) && $(PYTHON) -m venv $(RELEASE_VENV) && \
	  $(RELEASE_VENV)/bin/pip install --disable-pip-version-check -q -r requirements-release.txt && touch $@'

.PHONY: release-venv
release-venv: $(RELEASE_VENV)/.installed

.PHONY: cluster-binaries
cluster-binaries: venv
	python -m localcluster build

# The main job: deploy the operator guide's sample model server. Without KUBECONFIG it brings up the local
# control plane first (nodes and pods simulated by KWOK: no OVMS process runs there).
.PHONY: deploy
deploy: venv
	@if [ -z "$${KUBECONFIG:-}" ]; then \
	  echo "[make] no KUBECONFIG: using the local control plane. Its pods are simulated by KWOK, and OVMS's REST API"; \
	  echo "[make] is answered by a stand-in (a test double) inside a network namespace: no real OVMS runs here."; \
	  python -m localcluster up; \
	  python -m localcluster standin up --models resnet; \
	  export KUBECONFIG="$$(python -m localcluster env | sed 's/^export KUBECONFIG=//')"; \
	else echo "[make] deploying to the cluster in KUBECONFIG=$$KUBECONFIG"; fi; \
	ansible-playbook -i localhost, -c local -e ansible_python_interpreter="$$(command -v python)" \
	  playbooks/deploy.yml -e @playbooks/vars/seed-sample.yml

# The compatibility matrix's venvs (tools/matrix.py): ansible-core 2.16-2.19 x kubernetes oldest/middle/newest.
.PHONY: matrix-venvs
matrix-venvs: venv
	python tools/matrix.py build

.PHONY: test
test: venv cluster-binaries matrix-venvs
	$(MAKE) --no-print-directory lint test-unit release test-integration bench-quick test-molecule

.PHONY: test-unit
test-unit: venv
	python -m pytest tests/unit $(PYTEST_ARGS)

.PHONY: test-integration
test-integration: venv
	python -m pytest tests/integration $(PYTEST_ARGS)

.PHONY: test-molecule
test-molecule: venv
	cd molecule/.. && molecule test -s default

.PHONY: cluster-up
cluster-up: venv
	python -m localcluster up

.PHONY: cluster-down
cluster-down: venv
	python -m localcluster down

.PHONY: docs
docs: venv
	python tools/gen_docs.py

.PHONY: sanity
sanity: venv
	tools/sanity.sh

# The Galaxy artifact, checked as Galaxy and users get it (tools/release.sh); part of make test.
.PHONY: release
release: venv release-venv
	tools/release.sh

# Before publishing: fold the fragments into galaxy.yml's version (a release not yet published gets them added;
# after publishing, raise galaxy.yml's version first) and regenerate CHANGELOG.rst.
.PHONY: changelog
changelog: venv release-venv
	$(RELEASE_VENV)/bin/antsibull-changelog release
	$(RELEASE_VENV)/bin/antsibull-changelog lint

.PHONY: lint
lint: venv
	ansible-lint --profile production

# Benchmarks (bench/run.py): the full run writes docs/benchmarks.md; the quick one is CI's smoke test.
.PHONY: bench
bench: venv cluster-binaries
	python bench/run.py --out docs/benchmarks.md --results bench/results.json

.PHONY: bench-quick
bench-quick: venv
	python bench/run.py --quick
