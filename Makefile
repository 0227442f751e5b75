# Two commands for a fresh machine (Debian 12, Python 3.11): `make run` and `make test`.
# Both create .venv when it is missing; as root they also install the Debian packages Qt,
# Xvfb, D-Bus and gnome-keyring need (../shared/notes/headless-qt-keyring.md).
# `make test` runs every test (CI uses it); `make test-fast` leaves out those marked `slow`
# (corpus sweeps, live processes, Chromium, the command line in subprocesses): minutes less.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAMPLE := resources/sample/demo-keyholder.core

DEB_PACKAGES := libglib2.0-0 libgl1 libegl1 libfontconfig1 libxkbcommon0 libdbus-1-3 fonts-dejavu-core \
  libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 \
  libxcb-render-util0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 xvfb xauth \
  dbus-daemon dbus-bin gnome-keyring gdb xz-utils gcc libc6-dev openssl openssh-client chromium \
  poppler-utils zstd lz4 bzip2 zip gzip liblzo2-dev
# QEMU (vmcores made by dump-guest-memory in tests), makedumpfile (kdump-compressed, flattened), a Linux kernel
# and busybox (a real kernel boots under TCG and crashes, so its vmcore carries VMCOREINFO): large,
# so a separate list, installed with the runtimes by `make test` (the slow vmcore tests), not by `make run`.
VMCORE_DEB_PACKAGES := qemu-system-x86 makedumpfile linux-image-cloud-amd64 busybox-static

BENCH_DEB_PACKAGES := rsakeyfind aeskeyfind yara
# The runtimes whose live processes the slow tests dump (tests/builders/runtimes.py): a JVM with jcmd, Go,
# Node.js, nginx with curl for real TLS handshakes. Only `make test` (and `make runtime-deps`) installs them:
# `make run` and `make test-fast` do not need them.
RUNTIME_DEB_PACKAGES := default-jdk-headless golang-go nodejs nginx-light curl

.PHONY: run test test-fast deps runtime-deps bench-deps venv lint bench clean fuzz

deps:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(DEB_PACKAGES)"

runtime-deps:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(RUNTIME_DEB_PACKAGES) $(VMCORE_DEB_PACKAGES)"

.PHONY: install-debs
install-debs:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=$$(for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  fi; \
	fi

# `make run` installs what the application needs; the test packages (pytest, hypothesis, ruff…) only come
# with `make test` / `make venv` (.installed-test implies .installed).
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

venv: $(VENV)/.installed-test

run: deps $(VENV)/.installed
	@$(VENV)/bin/evidence-viewer $(SAMPLE)

test: deps runtime-deps venv
	@bash tests/run-under-session.sh $(PY) -m pytest $(PYTEST_ARGS)

test-fast: deps venv  ## the suite without the tests marked slow; under 3 minutes
	@bash tests/run-under-session.sh $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check viewer tests

bench-deps:
	@$(MAKE) --no-print-directory install-debs PACKAGES="$(BENCH_DEB_PACKAGES)"

bench: deps bench-deps venv  ## benchmarks: info, scan (beside rsakeyfind/aeskeyfind/yara), entropy
	$(PY) tests/bench/bench_info.py
	$(PY) tests/bench/bench_scan.py --size-gib $${BENCH_GIB:-2}
	@$(PY) -m pip install -q yara-x >/dev/null 2>&1 || echo "yara-x did not install: the real-dump table leaves it out"
	$(PY) tests/bench/bench_scan.py --real --repeat $${BENCH_REPEAT:-3} --scaling $${BENCH_SCALING:-1,2,4,8}
	$(PY) tests/bench/bench_entropy.py
	$(PY) tests/bench/bench_gui.py
	$(PY) tests/bench/bench_gui_scan.py
	$(PY) tests/bench/bench_case.py

clean:
	rm -rf $(VENV) build *.egg-info

fuzz: venv  ## a long fuzz run of every parser and of the hostile-input harness (random seeds); FUZZ_EXAMPLES=N to change its length
	EV_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-20000} bash tests/run-under-session.sh $(PY) -m pytest -q tests/evidence/test_fuzz.py tests/evidence/test_fuzz_containers.py \
	  tests/evidence/test_robustness.py tests/evidence/test_hostile.py
	EV_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-20000} bash tests/run-under-session.sh $(PY) -m pytest -q tests/hostile
