#!/bin/bash
# The .deb's life on a Debian 12 system, run by tests/deb_package.rs inside demo/sandbox.sh (never on
# the host itself): install, files and modes, pam-auth-update wiring, a TAP login through the
# installed stack with the forced password change, then purge leaving the stack as it was.
set -euo pipefail
deb=${1:?usage: deb_package.sh PAM_TAP_DEB}
[ -n "${PAM_TAP_SANDBOX:-}" ] || { echo "deb_package.sh: run me through demo/sandbox.sh" >&2; exit 2; }

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
mode_is() { # PATH MODE OWNER
    local got
    got=$(stat -c '%a %U:%G' "$1") || fail "$1 missing"
    [ "$got" = "$2 $3" ] || fail "$1 is $got, want $2 $3"
    echo "ok $2 $3 $1"
}
line_of() { grep -n -m1 -E "$2" "$1" | cut -d: -f1; }

stack_before=$(mktemp -d)
cp -a /etc/pam.d/. "$stack_before/"

step "dpkg -i $(basename "$deb")"
dpkg -i "$deb"
dpkg -s pam-tap | grep -q '^Status: install ok installed' || fail "pam-tap not installed"
cmp -s /etc/pam.d/common-auth "$stack_before/common-auth" || fail "install changed common-auth (profile must be Default: no)"
echo "ok installing alone leaves /etc/pam.d as it was (profile is Default: no)"

step "files and modes"
mode_is /usr/lib/x86_64-linux-gnu/security/pam_tap.so 644 root:root
mode_is /usr/sbin/tapctl 755 root:root
mode_is /usr/sbin/pam_tap_keys 755 root:root
mode_is /etc/pam.d/pam-tap-enroll 644 root:root
mode_is /usr/share/pam-tap/sshd_config.d/pam_tap_enroll.conf 644 root:root
getent passwd _pam_tap_keys >/dev/null || fail "no _pam_tap_keys user for sshd's keys command"
echo "ok the keys command's user _pam_tap_keys exists"
mode_is /etc/security/pam_tap.toml 600 root:root
mode_is /var/lib/pam_tap 700 root:root
mode_is /usr/share/pam-configs/pam-tap 644 root:root
for f in /usr/share/man/man8/tapctl.8.gz /usr/share/man/man8/pam_tap.8.gz /usr/share/man/man5/pam_tap.toml.5.gz \
    /usr/share/bash-completion/completions/tapctl /usr/share/zsh/vendor-completions/_tapctl \
    /usr/share/fish/vendor_completions.d/tapctl.fish \
    /usr/share/cockpit/pam-tap/manifest.json /usr/share/cockpit/pam-tap/index.html \
    /usr/share/cockpit/pam-tap/tap.js /usr/share/cockpit/pam-tap/tap-ui.js /usr/share/cockpit/pam-tap/status.js /usr/share/cockpit/pam-tap/keys.js \
    /usr/share/cockpit/pam-tap/approval.js /usr/share/cockpit/pam-tap/tap.css /usr/share/cockpit/pam-tap/patternfly.css \
    /usr/share/doc/pam-tap/guide/index.html /usr/share/doc/pam-tap/guide/key-only.html; do
    mode_is "$f" 644 root:root
done
# The guide's pages link to each other and show their pictures inside the installed copy.
cat /usr/share/doc/pam-tap/guide/toc*.js | grep -q 'key-only.html' || fail "the installed guide has no table of contents"
[ -f /usr/share/doc/pam-tap/guide/first-login/03-choose-new-password.png ] || fail "the installed guide lacks its screenshots"
grep -q 'max_failures' /usr/share/doc/pam-tap/guide/shipped-files.html || fail "the installed guide lacks the policy file"
echo "ok the guide is installed as HTML under /usr/share/doc/pam-tap/guide"
unit_dir=$(dirname "$(dpkg -L pam-tap | grep -m1 'pam-tap-purge.timer$')")
mode_is "$unit_dir/pam-tap-purge.service" 644 root:root
mode_is "$unit_dir/pam-tap-purge.timer" 644 root:root
[ -L /etc/systemd/system/timers.target.wants/pam-tap-purge.timer ] || fail "purge timer not enabled"
echo "ok purge timer enabled"
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify "$unit_dir/pam-tap-purge.service" "$unit_dir/pam-tap-purge.timer" || fail "unit files do not verify"
    echo "ok systemd-analyze verify: purge service and timer"
fi
grep -q '^enabled = false' /etc/security/pam_tap.toml || fail "conffile does not ship enabled = false"
echo "ok conffile ships enabled = false"
dpkg-query -W -f='${Conffiles}\n' pam-tap | grep -q /etc/security/pam_tap.toml || fail "pam_tap.toml is not a conffile"
echo "ok /etc/security/pam_tap.toml is a conffile"
for page in man8/tapctl.8 man8/pam_tap.8 man5/pam_tap.toml.5; do
    warnings=$(zcat "/usr/share/man/$page.gz" | groff -man -Tutf8 -ww -z 2>&1 || true)
    [ -z "$warnings" ] || fail "$page: $warnings"
done
echo "ok man pages render without groff warnings"
tapctl --help >/dev/null

step "pam-auth-update --enable pam-tap"
pam-auth-update --enable pam-tap
grep -v '^#' /etc/pam.d/common-auth | grep -v '^$'
grep -v '^#' /etc/pam.d/common-password | grep -v '^$'
ta=$(line_of /etc/pam.d/common-auth 'pam_tap\.so'); ua=$(line_of /etc/pam.d/common-auth 'pam_unix\.so')
tp=$(line_of /etc/pam.d/common-password 'pam_tap\.so'); up=$(line_of /etc/pam.d/common-password 'pam_unix\.so')
[ -n "$ta" ] && [ -n "$ua" ] && [ "$ta" -lt "$ua" ] || fail "common-auth: pam_tap not before pam_unix"
[ -n "$tp" ] && [ -n "$up" ] && [ "$tp" -lt "$up" ] || fail "common-password: pam_tap not before pam_unix"
grep -qE '^auth\s+\[success=[0-9]+ default=ignore\]\s+pam_tap\.so' /etc/pam.d/common-auth || fail "auth control"
grep -qE '^auth\s.*pam_unix\.so.*try_first_pass' /etc/pam.d/common-auth || fail "pam_unix lacks try_first_pass"
grep -qE '^password\s+requisite\s+pam_tap\.so' /etc/pam.d/common-password || fail "password control"
grep -qE '^password\s.*pam_unix\.so.*use_authtok' /etc/pam.d/common-password || fail "pam_unix lacks use_authtok"
echo "ok pam_tap before pam_unix in common-auth ([success=N default=ignore]) and common-password (requisite)"

step "a user without a pass: one prompt, and passwd still works (stack on, policy still off)"
# Another process may hold an account-file lock for a moment (useradd exits 1 or 10): retry.
for _ in $(seq 50); do
    rc=0; useradd -m -s /bin/bash debtest || rc=$?
    [ "$rc" -ne 10 ] && [ "$rc" -ne 1 ] && break
    sleep 0.2
done
[ "$rc" -eq 0 ] || fail "useradd debtest: exit $rc"
echo 'debtest:Plain-0ld-Password-9' | chpasswd
printf 'Plain-0ld-Password-9\n' | pamtester login debtest authenticate acct_mgmt
# The real passwd, run by the user (setuid root, real uid the user's): asks the current password.
printf 'Plain-0ld-Password-9\nAnother-N3w-Password-4\nAnother-N3w-Password-4\n' | su debtest -c passwd \
    || fail "passwd for a user without a pass broke"
printf 'Another-N3w-Password-4\n' | pamtester login debtest authenticate

step "TAP login through the installed stack"
sed -i 's/^enabled = false/enabled = true/' /etc/security/pam_tap.toml
tapctl init
if tapctl doctor --help >/dev/null 2>&1; then
    tapctl doctor || fail "tapctl doctor reports a failure on the installed package"
fi
issued=$(tapctl issue debtest --lifetime 1h --one-time --reason "deb test" --json)
pass=$(printf '%s\n' "$issued" | sed -n 's/.*"pass": *"\([^"]*\)".*/\1/p')
[ -n "$pass" ] || fail "no pass in: $issued"
if printf 'Another-N3w-Password-4\n' | pamtester login debtest authenticate 2>/dev/null; then
    fail "the old password still works after issue"
fi
echo "ok the old password stopped working at issue"
printf '%s\nFresh-Pa55word-After-Tap\nFresh-Pa55word-After-Tap\n' "$pass" \
    | pamtester login debtest authenticate 'chauthtok(PAM_CHANGE_EXPIRED_AUTHTOK)' \
    || fail "TAP login with forced change failed"
printf 'Fresh-Pa55word-After-Tap\n' | pamtester login debtest authenticate acct_mgmt || fail "new password refused"
if printf '%s\n' "$pass" | pamtester login debtest authenticate 2>/dev/null; then
    fail "used one-time pass accepted again"
fi
echo "ok TAP login, forced change, new password works, TAP refused afterwards"
tapctl show debtest
tapctl log debtest

step "purge"
dpkg --purge pam-tap
for f in common-auth common-password common-account common-session common-session-noninteractive; do
    cmp "/etc/pam.d/$f" "$stack_before/$f" || fail "/etc/pam.d/$f differs after purge"
done
echo "ok /etc/pam.d/common-* byte-identical to before install"
for f in /usr/lib/x86_64-linux-gnu/security/pam_tap.so /usr/sbin/tapctl /etc/security/pam_tap.toml /var/lib/pam_tap \
    /usr/sbin/pam_tap_keys /etc/pam.d/pam-tap-enroll /var/lib/pam_tap_keys \
    /usr/share/pam-configs/pam-tap "$unit_dir/pam-tap-purge.timer" /etc/systemd/system/timers.target.wants/pam-tap-purge.timer; do
    if [ -e "$f" ] || [ -L "$f" ]; then fail "$f left after purge"; fi
done
echo "ok nothing of pam-tap left after purge"
printf 'Fresh-Pa55word-After-Tap\n' | pamtester login debtest authenticate || fail "login after purge"
echo "ok users log in with pam_unix alone after purge"
echo
echo "DEB PACKAGE TEST PASSED"
