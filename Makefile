# The two jobs of the README, each from a fresh Debian/Ubuntu machine: `make report` and `make test`.
# Both install what they need (Debian packages, a virtualenv with pinned Python packages) and are safe to rerun.
PY ?= python3
VENV ?= .venv
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := python3 python3-venv python3-pip texlive-latex-base texlive-latex-recommended \
	texlive-latex-extra texlive-pictures texlive-fonts-recommended latexmk poppler-utils
# Multi-threaded OpenBLAS is pathological on 2-vCPU VMs (docs/conventions.md § Measuring): one thread everywhere.
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1

.PHONY: system venv report test bench lint
system:
	@if command -v apt-get >/dev/null 2>&1; then \
	  missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	      --no-install-recommends $$missing; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[test]'
	touch $@

venv: $(VENV)/.installed

report: system venv
	$(VENV)/bin/bpv report

# The suite's files on one worker process per core (at most 2 help on the machines we measure): a file's tests stay
# on one worker, so its module fixtures (derivations, generated kernels) are made once. TEST_JOBS=0 runs serially.
TEST_JOBS ?= 2
test: system venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -n $(TEST_JOBS) --dist loadfile

bench: venv
	for b in benchmarks/bench_*.py; do $(VENV)/bin/python $$b || exit 1; done
