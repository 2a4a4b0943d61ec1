#!/bin/sh
# Adds pam_tap before pam_unix in the auth and password stacks of an authselect custom profile.
# pam_tap goes before the first line that is pam_unix or a `[...]` jump, so that no earlier jump
# (pam_usertype/pam_localuser's default=1) changes target.
# Usage: authselect-add-pam-tap.sh /etc/authselect/custom/PROFILE
set -eu
dir=${1:?usage: $0 /etc/authselect/custom/PROFILE}
for f in "$dir/system-auth" "$dir/password-auth"; do
    [ -f "$f" ] || { echo "$f: missing" >&2; exit 1; }
    if grep -q 'pam_tap\.so' "$f"; then
        echo "$f: pam_tap already present"
        continue
    fi
    cp -p "$f" "$f.before-pam_tap"
    awk '
        !auth_done && $1 == "auth" && ($3 == "pam_unix.so" || $2 ~ /^\[/) {
            printf "auth        [success=done default=ignore]                pam_tap.so try_first_pass\n"
            auth_done = 1
        }
        !pw_done && $1 == "password" && ($3 == "pam_unix.so" || $2 ~ /^\[/) {
            printf "password    requisite                                    pam_tap.so\n"
            pw_done = 1
        }
        # pam_unix must take the answer pam_tap already read, or users are asked twice.
        $1 == "auth" && $3 == "pam_unix.so" && !/try_first_pass|use_first_pass/ { print $0 " try_first_pass"; next }
        { print }
        END { if (!auth_done || !pw_done) exit 3 }
    ' "$f.before-pam_tap" > "$f" || { mv "$f.before-pam_tap" "$f"; echo "$f: no pam_unix auth/password line" >&2; exit 1; }
    echo "$f: pam_tap added (previous version: $f.before-pam_tap)"
done
