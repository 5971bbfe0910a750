# govlake — two commands on a fresh machine with Python 3.11:  make demo  and  make test
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PERSONS ?= 20000
DAYS ?= 3

.PHONY: install demo test test-slow test-all lint bench bench-parts clean airflow airflow-stop

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# uv when it can be had, pip otherwise; both install the pinned lock, then the project.
	@# Byte-compiled at install (pip does; uv only when asked): where PYTHONDONTWRITEBYTECODE is
	@# set, nothing is ever cached and every process compiled its imports anew (about 4 s).
	@if $(PY) -m pip install -q uv >/dev/null 2>&1 && $(VENV)/bin/uv --version >/dev/null 2>&1; then \
	  $(VENV)/bin/uv pip install --python $(PY) -q --compile-bytecode -r requirements.lock && \
	  $(VENV)/bin/uv pip install --python $(PY) -q --no-deps -e . ; \
	else \
	  $(PY) -m pip install -q -r requirements.lock && $(PY) -m pip install -q --no-deps -e . ; \
	fi
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the pinned dependencies

demo: $(STAMP)  ## generate a sample city in var/, run the pipeline, say where to look
	$(PY) -m samplecity --persons $(PERSONS) --days $(DAYS) --out var/landing
	$(VENV)/bin/govlake run --landing var/landing --lake var/lake
	@echo
	@echo "The lake is in var/lake (Delta tables, one folder per layer.table):"
	@$(VENV)/bin/govlake tables --lake var/lake
	@echo
	$(VENV)/bin/govlake report --lake var/lake --out var/report
	@echo "Quality report (open it in a browser, no network needed): var/report/index.html"
	@echo
	$(VENV)/bin/govlake sql --role city_analyst --lake var/lake --user demo -e \
	  "SELECT region_code, count(*) AS persons, count(*) FILTER (WHERE is_deceased) AS deceased FROM silver.person GROUP BY 1 ORDER BY 1"
	@echo
	@echo
	@bin/demo-users var/users.json
	@echo "The quality workbench (findings, disputes 数据异议, rectification 整改), for those users:"
	@echo "  .venv/bin/govlake serve web --lake var/lake --users var/users.json   then open http://127.0.0.1:8800/"
	@echo
	@echo "Query it as the operator (masked by role, audited):  .venv/bin/govlake sql --role city_analyst --lake var/lake"
	@echo "Serve it to analysts and BI tools (PostgreSQL protocol, SCRAM logins, the same users):  .venv/bin/govlake serve sql --lake var/lake --users var/users.json"
	@echo "Roles, masks and the audit trail: docs/sql.md.  History of a table:  .venv/bin/govlake history bronze.gaj_hjrk --lake var/lake"
	@echo "The same pipeline on Airflow 3 (one DAG per source, asset-triggered builds):  make airflow  (docs/airflow.md)"

test: $(STAMP)  ## the fast suite (run before every commit), on two processes
	$(PY) -m pytest -q -m "not slow" -n 2

test-slow: $(STAMP)  ## only the slow tests (CI runs them after `make test`)
	$(PY) -m pytest -q -m slow; rc=$$?; [ $$rc -eq 5 ] && echo "no slow tests" && rc=0; exit $$rc

test-all: $(STAMP)  ## everything
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/lint-imports

bench: $(STAMP)  ## the whole pipeline beside a single-node reference, 100k and 1M persons × 3 dates
	$(PY) bench/city_bench.py --persons 100000 1000000

bench-parts: $(STAMP)  ## ingestion, base, quality, themes and SQL figures at 100k and 1M persons
	$(PY) bench/ingest_bench.py --persons 100000 1000000
	$(PY) bench/base_bench.py --persons 100000 1000000
	$(PY) bench/quality_bench.py --persons 100000 1000000
	$(PY) bench/themes_bench.py --persons 100000 1000000
	$(PY) bench/sql_bench.py --persons 100000 1000000
	$(PY) bench/sql_server_bench.py --persons 1000000
	$(PY) bench/maintain_bench.py --persons 2000 --days 30
	$(PY) bench/findings_bench.py --per-date 45000 --days 30 120 365

airflow: $(STAMP)  ## local Airflow 3 on 127.0.0.1:8080 with the DAGs and the sample landing zone
	bin/airflow-local up

airflow-stop:  ## stop what `make airflow` started
	bin/airflow-local down

clean:
	@bin/airflow-local down >/dev/null 2>&1 || true
	rm -rf var .pytest_cache
