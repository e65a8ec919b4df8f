#!/usr/bin/env bash
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Install the Debian packages the test suite needs (podman and its runtime, debootstrap for the
# test image, the SSH client, python3-venv for .venv). Safe to re-run: only missing packages are
# installed, and the package lists are refreshed at most once per run, only when something is missing.
set -euo pipefail

PACKAGES=(
    podman            # test hosts are podman containers
    runc              # the runtime tests/podman/containers.conf selects (crun cannot set rlimits here)
    uidmap            # newuidmap/newgidmap, needed by podman even as root on some setups
    slirp4netns       # podman's user-mode networking helper
    fuse-overlayfs    # overlay storage where the kernel's overlayfs is not usable
    netavark          # container networks (hosts reach each other and the S3 server by name)
    aardvark-dns      # name resolution on podman networks
    iptables          # netavark programs the container networks' NAT and forwarding rules with it
    debootstrap       # builds the Debian 12 test image locally (no registry is reachable)
    openssh-client    # ssh and ssh-keygen/ssh-keyscan for the per-run keys and known_hosts
    python3-venv      # make setup creates .venv
    ca-certificates
    make
    git
)

if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-system-deps: must run as root (or with sudo available): uid $(id -u)" >&2
        exit 1
    fi
else
    SUDO=()
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-system-deps: dpkg-query not found: this script expects Debian 12 (bookworm)" >&2
    exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-system-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
echo "install-system-deps: done"
