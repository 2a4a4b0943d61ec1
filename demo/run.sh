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

host_sum() { cat /etc/pam.d/* | sha256sum | cut -c1-16; }
before=$(host_sum)
demo/sandbox.sh bash demo/story.sh "$deb"
after=$(host_sum)
echo
if [ "$before" = "$after" ] && ! id alice >/dev/null 2>&1 \
    && ! dpkg-query -W -f='${Status}' pam-tap 2>/dev/null | grep -q 'install ok'; then
    echo "Host untouched: /etc/pam.d hashes to $after before and after; no user alice; pam-tap not installed."
else
    echo "WARNING: the host changed: /etc/pam.d $before -> $after, or alice or pam-tap is present" >&2
    exit 1
fi
