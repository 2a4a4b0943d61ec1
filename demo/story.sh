#!/bin/bash
# The narrated story of `make demo`; runs only inside demo/sandbox.sh.
set -euo pipefail
deb=${1:?usage: story.sh PAM_TAP_DEB}
[ -n "${PAM_TAP_SANDBOX:-}" ] || { echo "story.sh: run me through demo/sandbox.sh" >&2; exit 2; }

b=$'\e[1m'; d=$'\e[2m'; g=$'\e[32m'; r=$'\e[31m'; n=$'\e[0m'
[ -t 1 ] || { b=; d=; g=; r=; n=; }
say() { printf '\n%s%s%s\n' "$b" "$*" "$n"; }
run() { printf '%s# %s%s\n' "$d" "$*" "$n"; "$@"; }
indent() { sed 's/^/    /'; }
run_i() { printf '%s# %s%s\n' "$d" "$*" "$n"; "$@" 2>&1 | indent; }
# pamtester prints each prompt without a newline: show what alice types after each one, in order.
login() { # USER ANSWER... -- OPERATION...
    local user=$1; shift
    local answers=()
    while [ "$1" != -- ]; do answers+=("$1"); shift; done
    shift
    local out rc=0
    out=$(printf '%s\n' "${answers[@]}" | pamtester login "$user" "$@" 2>&1) || rc=$?
    local IFS=$'\x1f'
    printf '%s\n' "$out" | awk -v answers="${answers[*]}" -v typed="$d" -v plain="$n" '
        BEGIN { n = split(answers, a, "\x1f"); i = 1 }
        {
            line = $0
            while (i <= n && match(line, /(Current password|New password|Retype new password|Password): /)) {
                printf "%s%s%s%s\n", substr(line, 1, RSTART + RLENGTH - 1), typed, a[i++], plain
                line = substr(line, RSTART + RLENGTH)
            }
            if (line != "") print line
        }' | indent
    if [ "$rc" = 0 ]; then echo "    ${g}=> accepted${n}"; else echo "    ${r}=> refused${n}"; fi
}

echo "${b}pam_tap demo${n}: a throwaway sandbox of this machine (host /etc, /usr, /var untouched)."

say "1. Install the package and put pam_tap in the PAM stack"
printf '%s# dpkg -i %s%s\n' "$d" "$(basename "$deb")" "$n"
dpkg -i "$deb" >/dev/null 2>&1
echo "    pam-tap $(dpkg-query -W -f='${Version}' pam-tap) installed"
run pam-auth-update --enable pam-tap
grep -hE '^(auth|password).*pam_(tap|unix)' /etc/pam.d/common-auth /etc/pam.d/common-password | indent
printf '%s# %s%s\n' "$d" "sed -i 's/^enabled = false/enabled = true/' /etc/security/pam_tap.toml" "$n"
sed -i 's/^enabled = false/enabled = true/' /etc/security/pam_tap.toml
run_i tapctl init
useradd -m -s /bin/bash alice
echo 'alice:Forgotten-0ld-pw' | chpasswd

say "2. alice has forgotten her password. The helpdesk issues a one-time pass:"
printf '%s# %s%s\n' "$d" 'tapctl issue alice --lifetime 1h --one-time --reason "ticket 4711: forgot password"' "$n"
out=$(tapctl issue alice --lifetime 1h --one-time --reason "ticket 4711: forgot password")
printf '%s\n' "$out" | grep -v '^$' | indent
# The pass is the third line, grouped for reading aloud ("ABCD-EFGH-JK"); pam_tap ignores the dashes.
pass=$(printf '%s\n' "$out" | sed -n '3p' | tr -d ' ')
[ -n "$pass" ] || { echo "could not read the pass from tapctl's output" >&2; exit 1; }

say "3. alice logs in with the pass (login's PAM stack). She is sent straight to a new password,"
echo "${b}   never asked for a current one:${n}"
login alice "$pass" 'Blue-Kettle-47-river' 'Blue-Kettle-47-river' -- authenticate 'chauthtok(PAM_CHANGE_EXPIRED_AUTHTOK)'

say "4. alice logs in with her new password:"
login alice 'Blue-Kettle-47-river' -- authenticate acct_mgmt

say "5. The pass again (one-time, already used):"
login alice "$pass" -- authenticate

say "6. What the helpdesk sees:"
run_i tapctl show alice
run_i tapctl log alice
