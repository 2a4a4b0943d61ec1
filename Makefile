# pam_tap: `make demo` shows it working, `make test` proves it. Both install what they need on a
# fresh Debian 12 machine (idempotently) before doing anything else.

SHELL := /bin/bash
CARGO ?= cargo
export PATH := $(HOME)/.cargo/bin:$(PATH)

# Debian packages the build, the tests and the demo use.
APT_PACKAGES := libpam0g-dev libpam-modules pamtester openssh-server openssh-client bubblewrap faketime \
	expect sqlite3 valgrind util-linux passwd login e2fsprogs binutils time sudo strace \
	cockpit-ws cockpit-bridge cockpit-system chromium chromium-driver
# The fleet store: the private PostgreSQL cluster of tests/fleet (tests/support/pg_cluster.rs, TLS
# material made with openssl) and libpq, which the module loads only for a postgresql:// store.
APT_PACKAGES += postgresql libpq5 openssl
# The fleet through a pooler (tests/support/pgbouncer.rs, tests/fleet/pooler.rs, bench F4): Debian's
# PgBouncer, started by the tests in front of the private cluster.
APT_PACKAGES += pgbouncer
# The graphical first login (tests/e2e/greeter.rs): LightDM and its GTK greeter on Xvfb, typed into
# with xdotool, photographed with ImageMagick.
GREETER_PACKAGES := lightdm lightdm-gtk-greeter xvfb xdotool imagemagick x11-utils dbus dbus-x11 \
	gnome-keyring libglib2.0-bin openssl fonts-dejavu-core
# pam_gnome_keyring.so as Debian's desktops install it, unpacked but never installed: installing
# libpam-gnome-keyring runs pam-auth-update, which edits the host's common-password. The greeter test
# binds it into a private copy of the module directory inside LightDM's own mount namespace.
GREETER_PAM_DIR := $(or $(CARGO_TARGET_DIR),target)/greeter-pam

.PHONY: all deps build release test lint clean test-console test-security test-unprivileged fuzz-deps fuzz-short fuzz bench guide-deps guide

all: build

# Installs only what is missing, so a second run does no network work.
deps:
	@missing=""; for p in $(APT_PACKAGES) $(GREETER_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@set -e; d="$(GREETER_PAM_DIR)"; \
	if ! ls "$$d"/root/lib/*/security/pam_gnome_keyring.so >/dev/null 2>&1; then \
		rm -rf "$$d"; mkdir -p "$$d/deb"; cd "$$d/deb"; \
		apt-get download -qq libpam-gnome-keyring 2>/dev/null || \
			{ apt-get update -qq && apt-get download -qq libpam-gnome-keyring; }; \
		dpkg-deb -x libpam-gnome-keyring_*.deb ../root; \
	fi
	@command -v cargo >/dev/null || { echo "cargo (rustup stable) is required"; exit 1; }

build: deps
	$(CARGO) build --workspace --all-targets

release: deps
	$(CARGO) build --release --workspace --lib --bins --examples

lint: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# tapctl takes the audit login uid for its operator when SUDO_USER is absent (su, doas): the suites act
# as root itself, so they run in a root login session (login uid 0) even when started from someone's login.
ROOT_SESSION := { [ "$$(id -u)" != 0 ] || echo 0 > /proc/self/loginuid 2>/dev/null || true; }

# Every test (unit, real libpam, tapctl, sshd/login/su, security suite, .deb), then a short fuzz run;
# first the guide, whose links tests/tapctl/guide.rs checks.
test: deps lint guide build
	$(ROOT_SESSION); PAM_TAP_REQUIRE_CONSOLE=1 $(CARGO) test --workspace --all-targets -- --test-threads=2
	$(MAKE) test-unprivileged
	$(MAKE) fuzz-short
	@echo; echo "security figures:"; cat target/security-figures.txt

# The Cockpit helpdesk console in a real chromium (screenshots in target/cockpit-screens/).
test-console: deps build
	PAM_TAP_REQUIRE_CONSOLE=1 $(CARGO) test --test console -- --nocapture

# The unit layers (base, store, core, the module's code table, tapctl) as nobody: none may need
# root, and a test that says SKIPPED fails the run.
test-unprivileged: deps
	scripts/unprivileged-tests.sh nobody

# The security suite alone, with its figures.
test-security: deps build
	$(ROOT_SESSION); $(CARGO) test --test security -- --test-threads=1 --nocapture
	@cat target/security-figures.txt

# The guide: mdBook from crates.io, without its default features (no web server, no file watcher, no
# search index), so the install builds in a few minutes and a second run does nothing.
MDBOOK_VERSION := 0.5.4
guide-deps:
	@mdbook --version 2>/dev/null | grep -qx 'mdbook v$(MDBOOK_VERSION)' || \
		$(CARGO) install mdbook --locked --no-default-features --version $(MDBOOK_VERSION)

# docs/guide into target/guide (book.toml's build-dir; never into the source tree). mdBook's errors
# fail it (a chapter SUMMARY.md names but that is missing: create-missing = false), and so does any
# warning it logs. Links, anchors, images and pages SUMMARY.md leaves out: tests/tapctl/guide.rs.
guide: guide-deps
	@mkdir -p target; set -o pipefail; mdbook build docs/guide 2>&1 | tee target/guide-build.log
	@! grep -E 'WARN|ERROR' target/guide-build.log

fuzz-deps:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

# libFuzzer targets (config, pass normalisation, stored hashes, connection strings against libpq,
# bulk CSV, pam.d, sshd_config); corpus in fuzz/corpus.
fuzz-short: fuzz-deps
	scripts/fuzz.sh $(or $(FUZZ_SECONDS),30)

fuzz: fuzz-deps
	scripts/fuzz.sh $(or $(FUZZ_SECONDS),1800)

# B1-B7, F1-F4 (a private PostgreSQL cluster; F4 also PgBouncer) and the argon2id sizing table, as
# root (~6 min after the build); writes target/bench.txt. BENCH_ARGS="--only F1,F2" runs some sections.
bench: deps
	$(ROOT_SESSION); scripts/bench.sh $(BENCH_ARGS)

clean:
	$(CARGO) clean

-include packaging/pkg.mk
