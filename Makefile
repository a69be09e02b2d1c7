PYTHON ?= python3.11

.PHONY: run test bench faults lint setup screenshots

run:  ## web + worker + beat with demo data (embedded PostgreSQL/Valkey unless DATABASE_URL/REDIS_URL)
	$(PYTHON) scripts/dev.py run

test:  ## the whole test suite on real PostgreSQL and Redis
	$(PYTHON) scripts/dev.py test $(ARGS)

bench:  ## benchmark figures, one per line
	$(PYTHON) scripts/dev.py bench $(ARGS)

faults:  ## fault benchmark: a month-end run, its PDFs and e-mails SIGKILLed at random, then counted
	$(PYTHON) scripts/dev.py bench faults

screenshots:  ## each role's home page at 1366x900 (demo world, FR and EN) into var/screenshots/
	$(PYTHON) scripts/dev.py screenshots

setup:
	$(PYTHON) scripts/dev.py setup

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy
