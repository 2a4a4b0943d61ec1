#!/bin/bash
# pam_tap's benchmark suite (`make bench`): builds release binaries, then runs examples/bench_tap as
# root inside a bwrap sandbox whose /etc is a private copy, so the ~1,100 bench accounts and the
# bench PAM services never reach the host. Prints the table and writes it to target/bench.txt.
#
#   scripts/bench.sh [--quick] [--only B1,F2,...]
#     --quick: fewer repetitions, no reset-mode bulk run; --only: those sections (B1-B7, F1-F4,
#     K1, K1f, K2, sizing).
#   BENCH_BIN=DIR scripts/bench.sh ...   no build: DIR holds libpam_tap.so, tapctl, pam_tap_keys,
#       examples/pam_drive and examples/bench_tap of a release build (to compare two builds in turn)
# F1-F4 start a private PostgreSQL cluster (tests/support/pg_cluster.rs), F4 PgBouncer in front of
# its own (tests/support/pgbouncer.rs): stopped when they end. K1 and K2 start private sshds
# (copies of /usr/sbin/sshd) on 127.0.0.1 with their files in a fresh directory under /run.
set -euo pipefail

cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
OUT=${BENCH_OUT:-target/bench.txt}
case $OUT in /*) ;; *) OUT=$(pwd)/$OUT ;; esac

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: needs root (PAM as root, /etc/shadow, a root-owned store); run: sudo make bench" >&2
	exit 1
fi
for tool in bwrap pamtester chpasswd chage /usr/bin/time openssl /usr/lib/postgresql/15/bin/postgres /usr/sbin/pgbouncer \
	/usr/sbin/sshd ssh ssh-keygen; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make deps)" >&2; exit 1; }
done

if [ -n "${BENCH_BIN:-}" ]; then
	BIN=$(cd "$BENCH_BIN" && pwd)
else
	"$CARGO" build --release --workspace --lib --bins --examples
	BIN=$(pwd)/target/release
fi

# The work directory must be on the disk the store would live on (not tmpfs): fsync is part of a login.
WORK=$(mktemp -d /var/tmp/pam_tap-bench.XXXXXX)
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
chmod 700 "$WORK"
# Tests on the same machine add and remove accounts: a lock file can vanish mid-copy, so retry.
for try in 1 2 3 4 5; do
	rm -rf "$WORK/etc"
	cp -a /etc "$WORK/etc" 2>"$WORK/cp.err" && break
	[ "$try" -lt 5 ] || { cat "$WORK/cp.err" >&2; exit 1; }
	sleep 1
done
mkdir -m 700 "$WORK/run" "$WORK/run/tmpfs"

# B2t puts a store on tmpfs to show what the durable commit costs.
TAPBENCH_PRIVATE_ETC=1 bwrap --dev-bind / / --bind "$WORK/etc" /etc --tmpfs "$WORK/run/tmpfs" --die-with-parent \
	"$BIN/examples/bench_tap" --bin "$BIN" --work "$WORK/run" --out "$OUT" "$@"
echo "written to $OUT"
