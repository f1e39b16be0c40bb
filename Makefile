# nnrtl — the user interface. `make` sets up and runs the main job; `make test` runs the suite.
# Everything comes from PyPI into .venv; nothing is needed from the OS but Python 3.11 and make.

PYTHON  ?= $(shell command -v python3.11 || command -v python3)
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.nnrtl-installed
DESIGNS ?= designs/default.toml
UNIT    ?= fpmul
PARAMS  ?= fmt=bf16

.DEFAULT_GOAL := all
.PHONY: all help setup main verilog smoke lint test bench synth report sweep studies studies-readme lmul-report mac-report posit-report nonlinear-report onnx-digits clean distclean

all: setup main ## set up .venv, then run the main job

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  variables: DESIGNS=$(DESIGNS) UNIT=$(UNIT) PARAMS='$(PARAMS)' TARGET= VARIANT= SEEDS= JOBS="
	@echo "             SIM=verilator|icarus WAVES=1 (benches)"

setup: $(STAMP) ## create .venv and install the pinned dependencies (fast when already done)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
	  print('\n'.join(p['dependencies'] + p['optional-dependencies']['dask']))" > $(VENV)/requirements.txt
	$(PY) -m pip install --quiet -r $(VENV)/requirements.txt
	@touch $@
	@echo "nnrtl: dependencies installed in $(VENV)"

main: setup ## the main job: Verilog, smoke simulations, synthesis (ECP5-85F), report
	$(PY) scripts/main.py --designs $(DESIGNS)

verilog: setup ## Verilog of a design set, or of one unit: make verilog UNIT=lmul PARAMS='fmt=bf16,stages=2'
	$(PY) scripts/generate.py $(if $(filter command line,$(origin UNIT)),--unit $(UNIT) --params '$(PARAMS)',--designs $(DESIGNS))

smoke: setup ## short simulations of the default design set
	$(PY) scripts/main.py --designs $(DESIGNS) --smoke-only

lint: setup ## verilator --lint-only -Wall over the default units, with tb/lint_waivers.vlt
	$(PY) scripts/lint.py --designs $(DESIGNS)

test: setup ## the whole test suite, in parallel (idle workers take queued tests: worksteal)
	$(PY) -m pytest -n auto --dist worksteal -q

bench: setup ## simulation speed benchmark; writes the figures into README.md
	$(PY) scripts/bench_sim.py --readme

synth: setup ## one synthesis + place-and-route run: make synth UNIT=fpmul PARAMS='fmt=bf16,stages=2'
	$(PY) scripts/synth.py --unit $(UNIT) --params '$(PARAMS)' $(if $(TARGET),--target $(TARGET)) $(if $(VARIANT),--variant $(VARIANT)) $(if $(SEEDS),--seeds $(SEEDS))

report: setup ## synthesize a design set (cached) and write build/report/: make report DESIGNS=...
	$(PY) scripts/report.py --designs $(DESIGNS)

sweep: setup ## run a design set's synthesis jobs in parallel: make sweep DESIGNS=...
	$(PY) scripts/sweep.py $(DESIGNS) $(if $(JOBS),--jobs $(JOBS))

STUDY_REPORT = $(PY) scripts/report.py --designs designs/lmul.toml --out build/report-lmul --no-run --quiet

studies: setup ## accuracy studies (L-Mul error, digits MLP) into build/studies/ and build/report-lmul/ (README untouched)
	$(PY) scripts/lmul_error.py
	$(PY) scripts/mlp_digits.py
	$(STUDY_REPORT)

studies-readme: setup ## the accuracy studies, also written into README.md
	$(PY) scripts/lmul_error.py --readme
	$(PY) scripts/mlp_digits.py --readme
	$(STUDY_REPORT)

lmul-report: setup ## L-Mul against exact multipliers (designs/lmul.toml): build/report-lmul/, README
	$(PY) scripts/report.py --designs designs/lmul.toml --out build/report-lmul --readme lmul_area $(if $(JOBS),--jobs $(JOBS))

mac-report: setup ## MAC arrays through the FPGA flow (designs/mac.toml): build/report-mac/, README
	$(PY) scripts/report.py --designs designs/mac.toml --out build/report-mac --readme mac_area --readme-tables $(if $(JOBS),--jobs $(JOBS))

posit-report: setup ## posits against floats: the digits accuracy table, then designs/posit.toml through the FPGA flow: build/report-posit/, README
	$(PY) scripts/posit_digits.py --readme
	$(PY) scripts/report.py --designs designs/posit.toml --out build/report-posit --readme posit_area --readme-tables $(if $(JOBS),--jobs $(JOBS))

nonlinear-report: setup ## nonlinear function units: error against LUTs and Fmax (designs/nonlinear.toml): build/report-nonlinear/, README
	$(PY) scripts/nonlinear_error.py
	$(PY) scripts/report.py --designs designs/nonlinear.toml --out build/report-nonlinear $(if $(JOBS),--jobs $(JOBS))
	$(PY) scripts/nonlinear_error.py --results build/report-nonlinear/results.json --readme

onnx-digits: setup ## the digits MLP quantized by onnxruntime, run by golden and the RTL MAC array; README table
	$(PY) scripts/onnx_linear.py --rtl 4x4 --readme

clean: ## remove build outputs (keeps .venv)
	rm -rf build .pytest_cache

distclean: clean ## remove build outputs and .venv
	rm -rf $(VENV)
