# wattscale: `make demo` runs the reference LLM campus; `make test` runs the test suite.
# Both create .venv (Python >= 3.11) and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-app
TESTED := $(VENV)/.installed-test
export WATTSCALE_DATA ?= $(abspath ../shared/data)

.PHONY: demo test test-fast bench ercot swings gridcode mpc size heal market forecast serve clean

# the demo needs wattscale alone; the tests add pytest, PyPSA and the CPU build of torch
$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "wattscale needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TESTED): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,neural]'
	touch $(TESTED)

demo: $(STAMP)
	$(BIN)/wattscale run examples/llm-campus.yaml -o out/llm-campus
	$(BIN)/wattscale swings examples/llm-campus.yaml -o out/llm-campus-swings

test: $(TESTED)
	@[ -n "$$WATTSCALE_CHROMIUM" ] || scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -n auto

test-fast: $(TESTED)
	$(BIN)/python -m pytest -n auto -m "not slow"

# the service on http://127.0.0.1:8765/ over out/service (make a token first: wattscale token create NAME --data out/service)
serve: $(STAMP)
	$(BIN)/wattscale serve --data out/service --port 8765

swings: $(STAMP)
	$(BIN)/wattscale swings examples/llm-campus.yaml -o out/llm-campus-swings

gridcode: $(STAMP)
	$(BIN)/wattscale gridcode examples/gridcode-virginia-2024.yaml -o out/gridcode-virginia-2024

mpc: $(STAMP)
	$(BIN)/wattscale run examples/llm-campus-mpc.yaml -o out/llm-campus-mpc

size: $(STAMP)
	$(BIN)/wattscale size examples/llm-campus-mpc.yaml -o out/llm-campus-mpc-sizing

ercot: $(STAMP)
	$(BIN)/wattscale run examples/llm-campus-ercot-2023.yaml -o out/llm-campus-ercot-2023

bench: $(TESTED)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/simulate_vs_vessim.py
	$(BIN)/python benchmarks/swings.py
	$(BIN)/python benchmarks/frequency.py
	$(BIN)/python benchmarks/adequacy.py
	$(BIN)/python benchmarks/dispatch_vs_pypsa.py
	$(BIN)/python benchmarks/mpc_vs_pypsa.py
	$(BIN)/python benchmarks/heal.py
	$(BIN)/python benchmarks/ledger_market.py
	$(BIN)/python benchmarks/forecast.py --quick
	$(BIN)/python benchmarks/service.py
	$(BIN)/python benchmarks/env.py

heal: $(STAMP)
	$(BIN)/wattscale grid heal examples/networks/campus-ring.yaml --fault T1 -o out/campus-ring-heal-T1
	$(BIN)/wattscale grid reliability examples/networks/campus-ring.yaml -o out/campus-ring-reliability

market: $(STAMP)
	$(BIN)/wattscale market examples/market-texas.yaml -o out/market-texas
	$(BIN)/wattscale ledger verify out/market-texas/ledger.sqlite --trust out/market-texas/trust.json \
		--checkpoint out/market-texas/checkpoint.json

forecast: $(STAMP)
	$(BIN)/wattscale forecast backtest examples/forecast-ercot-2023.yaml --target price --model lgbm
	$(BIN)/wattscale forecast value examples/forecast-ercot-2023.yaml

clean:
	rm -rf $(VENV) out .pytest_cache
