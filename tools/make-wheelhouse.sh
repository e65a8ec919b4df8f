#!/usr/bin/env bash
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Fill a wheelhouse on the controller for the GPU test hosts (CPython 3.11, manylinux x86_64):
# torch (the CPU build pip finds through this machine's configuration), the data libraries and
# their dependencies, and pip itself. The hosts install from it with --no-index --find-links,
# the way an air-gapped GPU site does. The wheelhouse is cached outside git under a directory
# named by the hash of the requirements, and reused while they are unchanged.
# Prints the wheelhouse path as the last line of stdout.
#
# Usage: tools/make-wheelhouse.sh [REQUIREMENTS_FILE]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUIREMENTS=${1:-$ROOT/tests/molecule/wheelhouse-requirements.txt}
PIP=${PIP:-$ROOT/.venv/bin/pip}
CACHE=${MT5CRS_WHEELHOUSE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mt5crs/wheelhouse}

[[ -r $REQUIREMENTS ]] || { echo "make-wheelhouse: requirements file not readable: $REQUIREMENTS" >&2; exit 1; }
[[ -x $PIP ]] || { echo "make-wheelhouse: pip not found: $PIP (run make setup first)" >&2; exit 1; }

req_hash=$(sha256sum "$REQUIREMENTS" | cut -c1-12)
dest=$CACHE/cp311-$req_hash
if [[ -f $dest/.complete ]]; then
    chmod -R a+rX "$dest"
    echo "make-wheelhouse: $dest is complete ($(find "$dest" -name '*.whl' | wc -l) wheels)" >&2
    echo "$dest"
    exit 0
fi

mkdir -p "$CACHE"
partial=$(mktemp -d "$CACHE/.partial.XXXXXX")
trap 'rm -rf "$partial"' EXIT

# Target the test hosts' interpreter (Debian 12: CPython 3.11, glibc 2.36) rather than the
# controller's, so that the same wheelhouse serves whatever Python runs this script.
echo "make-wheelhouse: downloading $(grep -cv '^\s*\(#\|$\)' "$REQUIREMENTS") requirements into $dest" >&2
"$PIP" download --quiet --dest "$partial" --requirement "$REQUIREMENTS" \
    --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any >&2

cp "$REQUIREMENTS" "$partial/requirements.txt"
touch "$partial/.complete"
# The hosts mount it read-only and install as the venv owner, who is not root.
chmod -R a+rX "$partial"
rm -rf "$dest"
mv "$partial" "$dest"
trap - EXIT
echo "make-wheelhouse: $(find "$dest" -name '*.whl' | wc -l) wheels, $(du -sh "$dest" | cut -f1)" >&2
echo "$dest"
