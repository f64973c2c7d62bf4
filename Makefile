# Quickstart: `make demo` plays the origin story on a local forge; `make test` runs every test.
# Both build .venv first (once; again only when pyproject.toml changes).

SHELL := bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Set to https://download.pytorch.org/whl/cpu on a Linux machine without a GPU to skip CUDA wheels.
TORCH_INDEX ?=
export GRADIO_ANALYTICS_ENABLED := False
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
# The stamp is named after pyproject.toml's checksum: a dependency edit reinstalls, nothing else does.
STAMP := $(VENV)/.installed-$(firstword $(shell cksum < pyproject.toml))

.PHONY: venv demo test lint typecheck bench chromium uv-check

venv: $(STAMP)

# torch goes first and exact, so the package's `torch>=2.2` is already met (no CUDA download).
$(STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e '.[test,claude]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: venv
	$(BIN)/ml-intern-bot demo

# The browser tests drive Debian's chromium; install it where it is missing and apt-get exists.
chromium:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then \
		echo "installing chromium (Debian package) for the browser tests"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	fi

test: venv chromium typecheck
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

# mypy over bot/ and runners/ (settings in pyproject.toml); `make test` runs it first, so CI does too.
typecheck: venv
	$(BIN)/mypy

lint: venv typecheck
	$(BIN)/ruff check .
	$(BIN)/actionlint .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions action.yml
	$(BIN)/zizmor --offline --min-severity medium .github/workflows/*.yml action.yml

# Every benchmarks/bench_*.py prints one JSON line (its last) and exits non-zero when it misses a target;
# all of them run, then the target fails if any missed. About 18 minutes on 2 cores (benchmarks/README.md).
bench: venv
	@status=0; for bench in benchmarks/bench_*.py; do echo "== $$bench"; \
		HF_HUB_OFFLINE=1 $(BIN)/python "$$bench" || status=1; done; exit $$status

# The PR's scripts as a user runs them: `uv run` in a fresh environment per script (only their PEP 723
# dependencies, a CPU torch), a --smoke run whose data comes from the Hub ID, served by a local
# `ml-intern-bot hub`. The first run fills the uv cache (UV_CACHE_DIR; kept for later runs). Where
# download.pytorch.org is unreachable the check says so and points the scripts' `pytorch-cpu` index at a
# local torch CPU wheel (or at CHECK_TORCH_INDEX). benchmarks/uv_run_check.py says more.
uv-check: venv
	$(BIN)/python benchmarks/uv_run_check.py $(UV_CHECK_ARGS)
