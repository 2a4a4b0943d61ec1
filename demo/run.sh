#!/bin/bash
# `make demo`: the whole pam_tap story in a sandbox that touches nothing on this machine.
#
# Builds the .deb (make deb), then, inside demo/sandbox.sh (copy-on-write /etc /usr /var /home /root
# in a private mount namespace), installs it, wires PAM with pam-auth-update, creates a user, issues
# a Temporary Access Pass and logs in with it through the real PAM stack (`login`'s, via pamtester).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "make demo: run as root (it needs a mount namespace; nothing on the host is changed)" >&2
    exit 1
fi

deb=${PAM_TAP_DEB:-}
if [ -z "$deb" ]; then
    make -s deb >/dev/null
    deb=$(ls -t target/debian/pam-tap_*.deb | head -n1)
fi
deb=$(readlink -f "$deb")

host_sum() { cat /etc/pam.d/* /etc/passwd /etc/shadow /etc/group 2>/dev/null | sha256sum | cut -c1-16; }
before=$(host_sum)
demo/sandbox.sh bash demo/story.sh "$deb"
after=$(host_sum)
echo
if [ "$before" = "$after" ] && ! dpkg-query -W -f='${Status}' pam-tap 2>/dev/null | grep -q 'install ok'; then
    echo "The host is untouched: /etc/pam.d, passwd, shadow and group hash to $after before and after, and pam-tap is not installed."
else
    echo "WARNING: the host's PAM or account files changed ($before -> $after)" >&2
    exit 1
fi
