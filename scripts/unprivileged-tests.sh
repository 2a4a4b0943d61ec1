#!/bin/sh
# The unit layers (base, store, core, the module's code table, tapctl's library and bin) run as an
# unprivileged user: built as the caller, then each test binary copied where that user can read it
# and run as nobody (setpriv, no supplementary groups, a private HOME and TMPDIR). Fails when any
# test fails or says SKIPPED: nothing in these layers may need root.
#   scripts/unprivileged-tests.sh [USER]     default nobody
set -eu
user=${1:-nobody}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d /tmp/pam-tap-unpriv.XXXXXX)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir "$work/bin" "$work/home"
chown "$user" "$work/home"
cargo test --workspace --lib --bins --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["name"] + " " + m["executable"])
' >"$work/list"
status=0
total=0
while read -r name exe; do
    cp "$exe" "$work/bin/$name-$(basename "$exe")"
    out="$work/$name.log"
    if ! setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
        env -i PATH=/usr/bin:/bin HOME="$work/home" TMPDIR="$work/home" \
        "$work/bin/$name-$(basename "$exe")" >"$out" 2>&1; then
        echo "FAILED as $user: $name" >&2
        tail -n 40 "$out" >&2
        status=1
    fi
    if grep -q "SKIPPED" "$out"; then
        echo "SKIPPED as $user in $name:" >&2
        grep "SKIPPED" "$out" >&2
        status=1
    fi
    n=$(sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    echo "$name: $n passed as $user"
    total=$((total + n))
done <"$work/list"
line="FIGURE unprivileged_unit_tests: user=$user passed=$total skipped=0 status=$status"
[ "$status" = 0 ] || line="FIGURE unprivileged_unit_tests: user=$user passed=$total status=$status"
echo "$line"
mkdir -p target
figures=target/security-figures.txt
touch "$figures"
grep -v "^FIGURE unprivileged_unit_tests:" "$figures" >"$figures.tmp" || true
echo "$line" >>"$figures.tmp"
sort "$figures.tmp" >"$figures" && rm -f "$figures.tmp"
exit $status
