# Two commands on a fresh machine (Python >= 3.11 and a JDK 17+ installed: java, and javac for the Kafka reader):
#   make demo   - the whole pipeline on this machine for DEMO_SECONDS (0: until Ctrl-C)
#   make test   - lint, unit, Spark, Kafka, ClickHouse, dashboard and chart checks
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_SECONDS ?= 60
DATA_DIR ?= data
export ARGOS_CACHE_DIR ?= $(HOME)/.cache/argos

.PHONY: setup demo test lint unit charts k8s-binaries chromium dashboards-json clean
.DEFAULT_GOAL := demo

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -e ".[test,bench]"
	$(BIN)/python -m argos_etl.jars > /dev/null   # Kafka broker + Spark Kafka connector from Maven Central, Argos' Kafka reader, cached
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/argos demo --data-dir $(DATA_DIR) $(if $(filter-out 0,$(DEMO_SECONDS)),--seconds $(DEMO_SECONDS),)

# Headless Chromium (Debian's package) renders the embedded dashboard in the tests.
chromium:
	@command -v chromium > /dev/null || { $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq --no-install-recommends chromium; }

lint: setup
	$(BIN)/ruff check .
	$(BIN)/python -m argos_dashboards.grafana --check

charts:
	bash .ci/validate-charts.sh

# etcd, kube-apiserver/kubectl and the spark-operator for k8s-tests, built from the Go module proxy on the first
# run (~30-45 min on 2 cores, then cached under $(ARGOS_CACHE_DIR)/k8s): here, where their progress shows.
k8s-binaries: setup
	$(BIN)/python k8s-tests/k8s_binaries.py > /dev/null

test: setup chromium lint charts k8s-binaries
	$(BIN)/pytest

dashboards-json: setup
	$(BIN)/python -m argos_dashboards.grafana

clean:
	rm -rf $(VENV) $(DATA_DIR) .pytest_cache .ruff_cache
