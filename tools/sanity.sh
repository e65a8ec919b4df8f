#!/usr/bin/env bash
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# ansible-test sanity without the pip bootstrap download: builds the collection, installs it into a
# temporary ansible_collections tree (ansible-test must run from ansible_collections/<ns>/<name>),
# puts the offline get-pip stand-in where ansible-test looks for a saved copy, and runs every sanity
# test in ansible-test's own venvs (--venv; they are cached under ~/.ansible/test/venv).
#
# Usage: tools/sanity.sh [extra ansible-test sanity arguments, e.g. --test validate-modules]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
PYTHON_VERSION=${MT5CRS_SANITY_PYTHON:-3.11}
export PATH=$VENV/bin:$PATH

# The stand-in, for every pip version this ansible-test may ask for.
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
pip_versions=$("$VENV/bin/python" - <<'PY'
import re
import ansible_test._internal.python_requirements as requirements
with open(requirements.__file__) as handle:
    print(' '.join(sorted(set(re.findall(r"pip='([0-9.]+)'", handle.read())))))
PY
)
[[ -n $pip_versions ]] || { echo "sanity: found no pip version in ansible-test's requirements" >&2; exit 1; }
for version in $pip_versions; do
    target=$cache/get_pip_${version//./_}.py
    if ! cmp -s "$ROOT/tools/sanity_get_pip.py" "$target"; then
        install -m 0644 "$ROOT/tools/sanity_get_pip.py" "$target"
        echo "sanity: installed the offline get-pip stand-in at $target"
    fi
    rm -f "$target.download"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mt5crs-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT

(cd "$ROOT" && ansible-galaxy collection build --force --output-path "$work/dist" >/dev/null)
tarball=$(ls "$work"/dist/mt5crs-gpu_orchestrator-*.tar.gz)
ansible-galaxy collection install --force --no-deps -p "$work" "$tarball" >/dev/null
target=$work/ansible_collections/mt5crs/gpu_orchestrator
[[ -d $target ]] || { echo "sanity: collection not installed where expected: $target" >&2; exit 1; }

# ansible-test reads the file list from git when the tree is a repository; an untracked copy is fine.
cd "$target"
echo "sanity: ansible-test sanity --python $PYTHON_VERSION --venv in $target"
ansible-test sanity --python "$PYTHON_VERSION" --venv --color no "$@"
