#!/bin/bash
# Runs a command in a throwaway, copy-on-write view of this machine.
#
# In a private mount namespace, /etc /usr /var /home /root become overlays whose writes land in a
# tmpfs, and /run and /tmp are fresh tmpfs: users added, packages installed, pam.d rewritten and
# databases created there vanish when the command exits. The host's files are never written.
# Everything else (/work, /proc, /dev) is shared.
#
# Usage: demo/sandbox.sh CMD [ARG...]        (as root)
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
    echo "sandbox.sh: needs root (mount namespace + overlayfs)" >&2
    exit 77
fi

if [ -z "${PAM_TAP_SANDBOX_INNER:-}" ]; then
    scratch=$(mktemp -d /tmp/pam-tap-sandbox.XXXXXX)
    trap 'rmdir "$scratch" 2>/dev/null || true' EXIT
    PAM_TAP_SANDBOX_INNER="$scratch" unshare --mount --propagation private --uts --ipc -- "$0" "$@"
    exit $?
fi

scratch=$PAM_TAP_SANDBOX_INNER
unset PAM_TAP_SANDBOX_INNER
mount -t tmpfs -o mode=0700 pam-tap-sandbox "$scratch"
for d in etc usr var home root; do
    [ -d "/$d" ] || continue
    mkdir -p "$scratch/$d.up" "$scratch/$d.work"
    mount -t overlay "sandbox-$d" -o "lowerdir=/$d,upperdir=$scratch/$d.up,workdir=$scratch/$d.work" "/$d"
    # Refuse to go on unless the overlay really is there: the command below rewrites /etc/pam.d.
    if [ "$(findmnt -n -o FSTYPE --mountpoint "/$d")" != overlay ]; then
        echo "sandbox.sh: /$d is not an overlay; stopping" >&2
        exit 1
    fi
done
mount -t tmpfs -o mode=0755 sandbox-run /run
mkdir -p /run/lock /run/sshd
mount -t tmpfs -o mode=1777 sandbox-tmp /tmp
hostname pam-tap-sandbox
export PAM_TAP_SANDBOX=1
exec "$@"
