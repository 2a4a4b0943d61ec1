# pam_tap: `make demo` shows it working, `make test` proves it. Both install what they need on a
# fresh Debian 12 machine (idempotently) before doing anything else.

SHELL := /bin/bash
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

# Debian packages the build, the tests and the demo use.
APT_PACKAGES := libpam0g-dev libpam-modules pamtester openssh-server openssh-client bubblewrap faketime \
	expect sqlite3 valgrind util-linux passwd login e2fsprogs binutils

.PHONY: all deps build release test lint clean

all: build

# Installs only what is missing, so a second run does no network work.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@command -v cargo >/dev/null || { echo "cargo (rustup stable) is required"; exit 1; }

build: deps
	$(CARGO) build --all-targets

release: deps
	$(CARGO) build --release --lib --bins --examples

lint: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

test: deps lint build
	$(CARGO) test --all-targets -- --test-threads=2

clean:
	$(CARGO) clean

-include packaging/pkg.mk
