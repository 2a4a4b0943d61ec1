# pam_tap: `make demo` shows it working, `make test` proves it. Both install what they need on a
# fresh Debian 12 machine (idempotently) before doing anything else.

SHELL := /bin/bash
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

# Debian packages the build, the tests and the demo use.
APT_PACKAGES := libpam0g-dev libpam-modules pamtester openssh-server openssh-client bubblewrap faketime \
	expect sqlite3 valgrind util-linux passwd login e2fsprogs binutils time sudo

.PHONY: all deps build release test lint clean test-security fuzz-deps fuzz-short fuzz bench

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

# Every test (unit, real libpam, tapctl, sshd/login/su, security suite, .deb), then a short fuzz run.
test: deps lint build
	$(CARGO) test --all-targets -- --test-threads=2
	$(MAKE) fuzz-short
	@echo; echo "security figures:"; cat target/security-figures.txt

# The security suite alone, with its figures.
test-security: deps build
	$(CARGO) test --test 'security_*' -- --test-threads=1 --nocapture
	@cat target/security-figures.txt

fuzz-deps:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

# libFuzzer targets (config parsing, pass normalisation, stored-hash parsing); corpus in fuzz/corpus.
fuzz-short: fuzz-deps
	scripts/fuzz.sh $(or $(FUZZ_SECONDS),30)

fuzz: fuzz-deps
	scripts/fuzz.sh $(or $(FUZZ_SECONDS),1800)

# B1-B7 and the argon2id sizing table, as root (~3 min after the build); writes target/bench.txt.
bench: deps
	scripts/bench.sh $(BENCH_ARGS)

clean:
	$(CARGO) clean

-include packaging/pkg.mk
