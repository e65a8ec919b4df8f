#!/usr/bin/env bash
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Build the Debian 12 image the molecule scenarios run their hosts from, with debootstrap (no image
# registry is reachable), unless it exists already. The tag carries a hash of the recipe (this
# script, the package list and the entry point), so a changed recipe builds a new image.
# Prints the image name as the last line of stdout.
#
# Usage: tools/build-test-image.sh [--print-name]   (--print-name: name only, build nothing)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/tests/podman/containers.conf}
MIRROR=${MT5CRS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
ENTRYPOINT=$ROOT/tests/podman/start-host.sh

# python3/python3-venv: Ansible and the GPU venv; openssh-server: Ansible connects over SSH;
# sudo/acl: become to the venv owner; iproute2/procps: facts and operator checks;
# python3-setuptools: ansible.builtin.pip imports it on the host (dataset_publish builds its venv with it).
PACKAGES=python3,python3-venv,python3-setuptools,openssh-server,sudo,acl,ca-certificates,iproute2,procps

recipe_hash=$( { cat "${BASH_SOURCE[0]}" "$ENTRYPOINT"; echo "$SUITE $PACKAGES"; } | sha256sum | cut -c1-12)
IMAGE=localhost/mt5crs-debian12:$recipe_hash

if [[ ${1:-} == --print-name ]]; then
    echo "$IMAGE"
    exit 0
fi

if podman image exists "$IMAGE"; then
    echo "build-test-image: $IMAGE exists" >&2
    echo "$IMAGE"
    exit 0
fi

for tool in debootstrap podman; do
    command -v "$tool" >/dev/null || {
        echo "build-test-image: $tool not found: run tools/install-system-deps.sh first" >&2
        exit 1
    }
done

workdir=$(mktemp -d "${TMPDIR:-/tmp}/mt5crs-image.XXXXXX")
trap 'rm -rf "$workdir"' EXIT
rootfs=$workdir/rootfs

echo "build-test-image: debootstrap $SUITE ($PACKAGES) from $MIRROR" >&2
start=$SECONDS
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$workdir/debootstrap.log" 2>&1 || {
    tail -n 30 "$workdir/debootstrap.log" >&2
    echo "build-test-image: debootstrap failed for $SUITE from $MIRROR (log above)" >&2
    exit 1
}

# Every container must make its own SSH host keys, so that a recreated host has new ones.
rm -f "$rootfs"/etc/ssh/ssh_host_*
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
: >"$rootfs/etc/machine-id"
install -m 0755 "$ENTRYPOINT" "$rootfs/usr/local/sbin/mt5crs-start-host"

tar -C "$rootfs" -c . | podman import \
    --change 'CMD ["/usr/local/sbin/mt5crs-start-host"]' \
    --change 'ENV LANG=C.UTF-8' \
    --message "mt5crs test host, recipe $recipe_hash" - "$IMAGE" >/dev/null
echo "build-test-image: built $IMAGE in $((SECONDS - start)) s" >&2
echo "$IMAGE"
