# whycant — two commands do all set-up on a fresh machine:
#   make run    the bot's main job (console front end, embedded defaults: SQLite, localhost)
#   make test   the test suite (lab tests need root; PostgreSQL tests need 127.0.0.1:5432)
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: run test venv system-deps bench lint clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c requirements.lock -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# What `make test` needs from Debian (root only; installed when missing), as binary:package:
# the lab (OpenSSH, dropbear, sudo, nftables, iproute2, procps), the paste captures (net-tools' netstat),
# tests/service (Prometheus, promtool, Alertmanager, systemd-analyze; started by the tests, loopback only).
SYSTEM_DEPS = sshd:openssh-server ssh-keygen:openssh-client nft:nftables ip:iproute2 ss:iproute2 \
              nstat:iproute2 sysctl:procps netstat:net-tools \
              prometheus:prometheus promtool:prometheus prometheus-alertmanager:prometheus-alertmanager \
              systemd-analyze:systemd dropbear:dropbear-bin sudo:sudo

system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; \
	  for b in $(SYSTEM_DEPS); do \
	    command -v $${b%%:*} >/dev/null || [ -x /usr/sbin/$${b%%:*} ] || missing="$$missing $${b##*:}"; \
	  done; \
	  if [ -n "$$missing" ]; then \
	    missing=$$(printf ' %s' $$(printf '%s\n' $$missing | sort -u)); \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	fi

run: $(STAMP)
	$(VENV)/bin/whycant console

test: $(STAMP) system-deps
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(STAMP) system-deps
	$(PY) -m pip install -q -c requirements.lock -e '.[bench]'
	$(PY) -m bench

# ruff (format and lint), mypy (types) and the import graph (no cycles, probes never import bot: tests/test_imports.py).
lint: $(STAMP)
	$(PY) -m pip install -q -c requirements.lock -e '.[lint]'
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m tests.import_graph --summary

clean:
	rm -rf $(VENV) build *.egg-info
