# The README's two commands:  make demo  and  make test.
# Each creates (or refreshes) its own virtual environment, so a fresh machine needs only Python >= 3.10.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The real CIFAR-10 JPEG copy, when it sits beside the repository (used by the demo, never required).
CIFAR10_JPEG ?= $(wildcard ../shared/data/cifar10-train-jpeg.tar.gz)

.PHONY: demo train-demo test test-slow lint typecheck bench-cpu release clean-venv

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "cs231kit needs Python >= 3.10; set PYTHON=python3.x")'
	@# Grading runs student code in bubblewrap sandboxes: install it where we can (root + apt).
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null)); } || \
	  echo "note: bubblewrap (bwrap) is not installed; grading will ask for it (apt-get install bubblewrap)"
	@# The gradebook tests start a PostgreSQL server of their own: install its binaries likewise.
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get install -y -qq postgresql >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null)); } || \
	  echo "note: PostgreSQL is not installed; its gradebook tests are skipped (apt-get install postgresql)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[grader,dev]'
	@touch $@

# The TA workflow on the bundled samples: release, collect, grade in parallel, export, feedback.
demo: $(BIN)/.installed
	$(BIN)/python -m autograder demo

# Train a small ConvNet from the library's fast layers (real CIFAR-10 JPEGs when present).
train-demo: $(BIN)/.installed
	CS231KIT_CIFAR10_JPEG="$${CS231KIT_CIFAR10_JPEG:-$(CIFAR10_JPEG)}" $(BIN)/python -m autograder train-demo

release: $(BIN)/.installed
	$(BIN)/python -m autograder release

test: $(BIN)/.installed
	$(BIN)/python -m pytest --durations=15

# Tolerance validation over 1000 seeds per hidden check (not part of `make test`).
test-slow: $(BIN)/.installed
	$(BIN)/python -m pytest -m slow

lint: $(BIN)/.installed
	$(BIN)/ruff check cs231kit autograder tests bench datasets student

typecheck: $(BIN)/.installed
	$(BIN)/mypy

# Benchmarks need PyTorch as the baseline; it goes into its own environment so tests never depend on it.
$(VENV)-bench/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)-bench
	$(VENV)-bench/bin/python -m pip install --quiet --upgrade pip
	$(VENV)-bench/bin/python -m pip install --quiet -e . 'torch==2.13.0'
	@touch $@

bench-cpu: $(VENV)-bench/.installed
	$(VENV)-bench/bin/python bench/conv_cpu.py

clean-venv:
	rm -rf $(VENV) $(VENV)-bench
