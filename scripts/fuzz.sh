#!/bin/sh
# Runs pam_tap's libFuzzer targets for SECONDS each.
#   scripts/fuzz.sh [SECONDS]        default 60 (the short run `make test` uses); `make fuzz` passes more.
# The targets:
#   config_parse  the policy file                 normalize  what is typed at the prompt
#   hash_parse    a stored (tampered) hash        csv_row    the rows of `tapctl issue --csv`
#   pamd_line     pam.d lines, and doctor's reading of the stacks (includes, success jumps)
#   sshd_config   doctor's reading of sshd_config (keywords, first value wins, Match, Include)
# The last three compile tapctl's own parser files (under crates/tapctl/src/) by path.
# The seed corpus in fuzz/corpus/ is kept in the repo and only read; new inputs go to
# fuzz/target/corpus/ (ignored by git). A crash leaves its input in fuzz/artifacts/ and fails the run.
# Needs cargo-fuzz; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept cargo-fuzz's -Zsanitizer flag.
set -eu
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
# Always the machine's stable toolchain (the only one a fresh machine has), with RUSTC_BOOTSTRAP.
fuzz() { RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; }
figures="$root/target/security-figures.txt"
mkdir -p "$root/target"
status=0
for t in config_parse normalize hash_parse conninfo_redact csv_row pamd_line sshd_config; do
    mkdir -p "target/corpus/$t" "corpus/$t"
    log="target/fuzz-$t.log"
    if fuzz run "$t" "target/corpus/$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        crashes=0
    else
        crashes=1
        status=1
        tail -n 30 "$log" >&2
    fi
    runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    line="FIGURE fuzz_$t: seconds=$secs runs=${runs:-?} coverage_edges=${cov:-?} crashes=$crashes"
    echo "$line"
    touch "$figures"
    grep -v "^FIGURE fuzz_$t:" "$figures" >"$figures.tmp" || true
    echo "$line" >>"$figures.tmp"
    sort "$figures.tmp" >"$figures" && rm -f "$figures.tmp"
done
exit $status
