# The two commands of the README, and the checks they run. Works on a fresh machine with Python 3.11.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test setup system-deps serving-peers bench-peers cluster-tools engine-tools argo-tools kserve-tools check lint types layers pytest bench schema goldens

## demo: set up and run the main job on the embedded default (local MLflow, local KFP run)
demo: setup
	$(BIN)/signoff demo

## test: set up and run every check (lint, types, import layers, unit, integration and cluster tests)
test: setup system-deps serving-peers cluster-tools engine-tools check

## serving-peers: MLServer (KServe's MLflow runtime), from PyPI into its own venv in the tools cache,
## so the tests probe and scrape the real server the rendered InferenceService runs
TOOLS_CACHE    ?= $(or $(SIGNOFF_TOOLS_CACHE),$(HOME)/.cache/signoff-tools)
MLSERVER_VER   := 1.7.1
MLSERVER_VENV  := $(TOOLS_CACHE)/mlserver-$(MLSERVER_VER)-py311
export SIGNOFF_MLSERVER := $(MLSERVER_VENV)/bin/mlserver
# KServe's storage initializer (kserve-storage, the package KServe's storage-initializer image runs),
# at the version of tools/kserve, for the test of infra/docker/storage-initializer's download-then-verify
# kserve-storage unpacks archives with PEP 706's tarfile filters (Python >= 3.11.4, as in KServe's
# image); on an older python3.11 (Debian 12's 3.11.2) the venv gets them from backports.tarfile
# (tools/serving-peers/pep706.py says how)
KSERVE_STORAGE_VER  := 0.20.0
KSERVE_STORAGE_VENV := $(TOOLS_CACHE)/kserve-storage-$(KSERVE_STORAGE_VER)-py311-pep706
export SIGNOFF_KSERVE_STORAGE := $(KSERVE_STORAGE_VENV)/bin/python
serving-peers: $(MLSERVER_VENV)/.installed $(KSERVE_STORAGE_VENV)/.installed
$(KSERVE_STORAGE_VENV)/.installed: tools/serving-peers/pep706.py
	rm -rf $(KSERVE_STORAGE_VENV)
	$(PYTHON) -m venv $(KSERVE_STORAGE_VENV)
	$(KSERVE_STORAGE_VENV)/bin/pip install -q --upgrade pip
	$(KSERVE_STORAGE_VENV)/bin/pip install -q kserve-storage==$(KSERVE_STORAGE_VER)
	if ! $(KSERVE_STORAGE_VENV)/bin/python -c 'import tarfile; tarfile.data_filter' 2>/dev/null; then \
	  site=$$($(KSERVE_STORAGE_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') && \
	  $(KSERVE_STORAGE_VENV)/bin/pip install -q 'backports.tarfile>=1.2,<2' && \
	  cp tools/serving-peers/pep706.py "$$site/_signoff_pep706.py" && \
	  echo 'import _signoff_pep706' > "$$site/_signoff_pep706.pth"; \
	fi
	$(KSERVE_STORAGE_VENV)/bin/python -c 'import tarfile; tarfile.data_filter'
	touch $@
$(MLSERVER_VENV)/.installed:
	rm -rf $(MLSERVER_VENV)
	$(PYTHON) -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/pip install -q --upgrade pip
	$(MLSERVER_VENV)/bin/pip install -q mlserver==$(MLSERVER_VER) mlserver-mlflow==$(MLSERVER_VER)
	touch $@

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

## system-deps: Prometheus (with promtool), amtool, Alertmanager and the Pushgateway (Debian packages) for the
## Prometheus/Alertmanager checks and the drift producer;
## chromium (headless) for the HTML report test; wrk for benchmarks
system-deps:
	@if command -v promtool >/dev/null && command -v amtool >/dev/null && command -v wrk >/dev/null \
	  && [ -x /usr/bin/prometheus-alertmanager ] && [ -x /usr/bin/prometheus-pushgateway ] \
	  && command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager prometheus-pushgateway wrk chromium >/dev/null; \
	else echo "note: promtool/amtool/alertmanager/pushgateway/chromium/wrk missing and not root: those tests will skip"; fi

## cluster-tools: build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok
## from tools/cluster/go.mod (Go >= 1.26; minutes the first time, then a no-op) for tests/cluster
cluster-tools:
	tools/cluster/build >/dev/null

# the cluster tests (and the kustomize tests) use the binaries built above, never a kubectl on PATH
export SIGNOFF_CLUSTER_BIN := $(shell tools/cluster/build --print-bin 2>/dev/null)

## engine-tools: build the engines the cluster tests run for real, one Go module each (their Kubernetes
## libraries conflict with the control plane's): tools/argo (Argo Workflows' workflow-controller and
## argo-lint, the validator of `argo lint --offline`) and tools/kserve (the KServe controller-manager);
## minutes the first time, then a no-op
engine-tools: argo-tools kserve-tools
argo-tools:
	tools/argo/build >/dev/null
kserve-tools:
	tools/kserve/build >/dev/null

# the engine tests use the binaries built above
export SIGNOFF_ARGO_BIN := $(shell tools/argo/build --print-bin 2>/dev/null)
export SIGNOFF_KSERVE_BIN := $(shell tools/kserve/build --print-bin 2>/dev/null)

check: lint types layers pytest

lint:
	$(BIN)/ruff check contracts gates components pipelines tests bench
	$(BIN)/ruff format --check contracts gates components pipelines tests bench

types:
	$(BIN)/mypy

layers:
	$(BIN)/lint-imports

pytest:
	$(BIN)/pytest -q -p no:cacheprovider --allowed-skips tests/allowed-skips.txt

## bench: every benchmark, side by side with its baseline (building the control plane it times); writes bench/RESULTS.md
bench: setup system-deps bench-peers cluster-tools
	SIGNOFF_BENCH_PEERS=$(BENCH_PEERS_VENV) $(BIN)/python -m bench.run_all

## bench-peers: the peers the benchmarks run side by side (OpenSSF model-signing's hashing), from PyPI
## into their own venv in the tools cache: never a dependency of signoff itself
MODEL_SIGNING_VER := 1.1.1
BENCH_PEERS_VENV  := $(TOOLS_CACHE)/bench-peers-model-signing-$(MODEL_SIGNING_VER)-py311
bench-peers: $(BENCH_PEERS_VENV)/.installed
$(BENCH_PEERS_VENV)/.installed:
	rm -rf $(BENCH_PEERS_VENV)
	$(PYTHON) -m venv $(BENCH_PEERS_VENV)
	$(BENCH_PEERS_VENV)/bin/pip install -q --upgrade pip
	$(BENCH_PEERS_VENV)/bin/pip install -q model-signing==$(MODEL_SIGNING_VER) pyOpenSSL  # 1.1.1 imports OpenSSL without declaring it
	touch $@

## schema / goldens: regenerate generated files (never in CI)
schema: setup
	$(BIN)/signoff contract schema --write
goldens: setup
	$(BIN)/pytest -q --update-goldens
