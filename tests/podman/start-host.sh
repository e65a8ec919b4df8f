#!/usr/bin/env bash
# Entry point of the test host image: fresh SSH host keys for every new container, the per-run
# public key from $MT5CRS_AUTHORIZED_KEY as root's only authorized key, then sshd in the foreground.
set -eu
if [ ! -e /etc/ssh/ssh_host_ed25519_key ]; then
    ssh-keygen -A >/dev/null
fi
install -d -m 0700 /root/.ssh
if [ -n "${MT5CRS_AUTHORIZED_KEY:-}" ]; then
    printf '%s\n' "$MT5CRS_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
    chmod 0600 /root/.ssh/authorized_keys
fi
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e
