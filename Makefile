PYTHON ?= python3.11

.PHONY: run test bench lint setup

run:  ## web + worker + beat with demo data (embedded PostgreSQL/Valkey unless DATABASE_URL/REDIS_URL)
	$(PYTHON) scripts/dev.py run

test:  ## the whole test suite on real PostgreSQL and Redis
	$(PYTHON) scripts/dev.py test $(ARGS)

bench:  ## benchmark figures, one per line
	$(PYTHON) scripts/dev.py bench $(ARGS)

setup:
	$(PYTHON) scripts/dev.py setup

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
