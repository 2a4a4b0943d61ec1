# Packaging targets for pam_tap, included by the top-level Makefile (`include packaging/pkg.mk`).
#
#   make pkg-deps   tools the packaging needs (cargo-deb; apt: pamtester groff-base ...)
#   make man        man pages + shell completions into target/pkg-docs (from clap and docs/man/*.md)
#   make deb        target/debian/pam-tap_<version>-1_amd64.deb
#   make test-deb   build the .deb, install it into a throwaway overlay of this machine, check it
#   make rpm        target/rpm/RPMS/x86_64/pam-tap-<version>-1.x86_64.rpm with rpmbuild
#   make demo       the whole story in a sandbox that touches nothing on the host

CARGO ?= cargo
PKG_DOCS := target/pkg-docs
PKG_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
DEB := target/debian/pam-tap_$(PKG_VERSION)-1_amd64.deb
# On Debian, rpmbuild cannot see BuildRequires (no rpm database): `make rpm RPMBUILD_FLAGS=--nodeps`.
RPMBUILD_FLAGS ?= $(if $(wildcard /etc/debian_version),--nodeps,)
PKG_APT := dpkg-dev pamtester groff-base passwd login util-linux libpam-runtime rpm

.PHONY: pkg-deps man deb test-deb rpm demo

RPM := target/rpm/RPMS/x86_64/pam-tap-$(PKG_VERSION)-1.x86_64.rpm

# `make test` builds the .deb and the .rpm first, and tests/deb_package.rs tests those very files.
export PAM_TAP_DEB := $(abspath $(DEB))
export PAM_TAP_RPM := $(abspath $(RPM))
test: deb rpm

pkg-deps:
	@missing=""; for p in $(PKG_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "apt-get install:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@$(CARGO) deb --version >/dev/null 2>&1 || $(CARGO) install cargo-deb --locked

man:
	$(CARGO) run --quiet -p tapctl --example gen_docs -- $(abspath $(PKG_DOCS))
	gzip -9nkf $(PKG_DOCS)/man/*.[58]

deb: pkg-deps man guide
	# Apart, so the module is built without the store's admin side (features unify within one build).
	$(CARGO) build --release -p pam-tap-module
	$(CARGO) build --release -p tapctl
	$(CARGO) build --release -p pam-tap-keys
	$(CARGO) deb --no-build --output $(DEB)
	@echo "built $(DEB)"

test-deb: deb
	$(CARGO) test --test deb_package -- --nocapture

rpm: pkg-deps man guide
	@if command -v rpmbuild >/dev/null 2>&1; then \
		$(CARGO) build --release -p pam-tap-module && $(CARGO) build --release -p tapctl && \
		$(CARGO) build --release -p pam-tap-keys && \
		rpmbuild -bb packaging/rpm/pam-tap.spec $(RPMBUILD_FLAGS) \
			--define "_topdir $(abspath target/rpm)" \
			--define "srcdir $(abspath .)" \
			--define "pkg_version $(PKG_VERSION)"; \
	else \
		echo "rpmbuild not found: apt-get install rpm (or build on Fedora/RHEL)"; exit 1; \
	fi

# The demo's tapctl is root's own: no SUDO_USER, and a root login session (see ROOT_SESSION).
demo: deb
	@$(ROOT_SESSION); env -u SUDO_USER bash demo/run.sh
