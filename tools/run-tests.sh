#!/usr/bin/env bash
# Copyright (c) 2026, mt5crs.gpu_orchestrator contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Run one stage of the test suite, or all of them with a summary table.
#
# Usage: tools/run-tests.sh STAGE [STAGE...]
#   lint         ansible-lint (production profile, .ansible-lint) and shellcheck on the shell scripts
#   sanity       ansible-test sanity, offline (tools/sanity.sh)
#   unit         pytest tests/unit
#   integration  pytest tests/integration
#   molecule     every scenario in molecule/ (MT5CRS_MOLECULE_SCENARIOS="a b" picks some), then the
#                host key change check (tests/podman/test_host_key_change.py)
#   all          all of the above, in that order, then a summary; exits non-zero if any stage failed
# Each stage's output also goes to logs/tests/<stage>.log.

# The stage_* functions are called indirectly, as "stage_$name".
# shellcheck disable=SC2329
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
LOG_DIR=$ROOT/logs/tests
ALL_STAGES=(lint sanity unit integration molecule)

export PATH=$VENV/bin:$PATH
export CONTAINERS_CONF=${CONTAINERS_CONF:-$ROOT/tests/podman/containers.conf}
export ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1}
export PY_COLORS=${PY_COLORS:-0}
export NO_COLOR=${NO_COLOR:-1}
cd "$ROOT" || exit 2

die() {
    echo "run-tests: $*" >&2
    exit 2
}

# pytest's exit status 5 means it collected no test: for these stages that is a failure, not a pass.
run_pytest() {
    local status=0
    pytest -p no:cacheprovider "$@" || status=$?
    if [[ $status -eq 5 ]]; then
        echo "run-tests: pytest collected no tests in $*: a stage that must have tests fails" >&2
    fi
    return "$status"
}

stage_lint() {
    local status=0 scripts
    echo "+ ansible-lint (profile and waivers: .ansible-lint)"
    ansible-lint --offline || status=1
    mapfile -t scripts < <(git ls-files -co --exclude-standard -- '*.sh' .ci/run | grep -v '^collections/')
    echo "+ shellcheck ${scripts[*]}"
    shellcheck --severity=warning "${scripts[@]}" || status=1
    return "$status"
}

stage_sanity() {
    echo "+ tools/sanity.sh"
    "$ROOT/tools/sanity.sh"
}

stage_unit() {
    echo "+ pytest tests/unit"
    run_pytest tests/unit
}

stage_integration() {
    echo "+ pytest tests/integration"
    run_pytest tests/integration
}

molecule_scenarios() {
    if [[ -n ${MT5CRS_MOLECULE_SCENARIOS:-} ]]; then
        echo "$MT5CRS_MOLECULE_SCENARIOS"
        return
    fi
    # The fast scenarios first, so that a broken foundation fails early.
    local name ordered=() known=(gpu_preflight gpu_env dataset site)
    for name in "${known[@]}"; do
        [[ -f molecule/$name/molecule.yml ]] && ordered+=("$name")
    done
    for path in molecule/*/molecule.yml; do
        name=$(basename "$(dirname "$path")")
        [[ " ${known[*]} " == *" $name "* ]] || ordered+=("$name")
    done
    echo "${ordered[*]}"
}

stage_molecule() {
    local status=0 scenario start
    "$ROOT/tools/build-test-image.sh" >/dev/null || return 1
    for scenario in $(molecule_scenarios); do
        start=$SECONDS
        echo "+ molecule test -s $scenario"
        if molecule test -s "$scenario"; then
            echo "molecule:$scenario passed $((SECONDS - start))" >>"$RESULTS_FILE"
        else
            echo "molecule:$scenario FAILED $((SECONDS - start))" >>"$RESULTS_FILE"
            status=1
        fi
    done
    start=$SECONDS
    echo "+ pytest tests/podman (a recreated host with new host keys is refused)"
    if run_pytest tests/podman; then
        echo "molecule:host-key-change passed $((SECONDS - start))" >>"$RESULTS_FILE"
    else
        echo "molecule:host-key-change FAILED $((SECONDS - start))" >>"$RESULTS_FILE"
        status=1
    fi
    return "$status"
}

run_stage() {
    local stage=$1 start status=0
    mkdir -p "$LOG_DIR"
    echo "==== stage $stage ($(date -u +%H:%M:%SZ))"
    start=$SECONDS
    "stage_$stage" 2>&1 | tee "$LOG_DIR/$stage.log"
    status=${PIPESTATUS[0]}
    echo "$stage $([[ $status -eq 0 ]] && echo passed || echo FAILED) $((SECONDS - start))" >>"$RESULTS_FILE"
    echo "==== stage $stage: $([[ $status -eq 0 ]] && echo passed || echo "FAILED (exit $status)") in $((SECONDS - start)) s"
    return "$status"
}

summary() {
    local name result secs
    echo
    echo "Test summary (logs in ${LOG_DIR#"$ROOT"/})"
    printf '  %-22s %-8s %8s\n' STAGE RESULT SECONDS
    while read -r name result secs; do
        [[ $name == molecule:* ]] && name="  $name"
        printf '  %-22s %-8s %8s\n' "$name" "$result" "$secs"
    done <"$RESULTS_FILE"
    printf '  %-22s %-8s %8s\n' total "$1" "$((SECONDS - SUITE_START))"
}

[[ $# -gt 0 ]] || die "no stage given: expected one or more of ${ALL_STAGES[*]} all"
[[ -x $VENV/bin/python ]] || die "$VENV not found: run make setup first"

stages=()
for arg in "$@"; do
    case $arg in
        all) stages+=("${ALL_STAGES[@]}") ;;
        lint | sanity | unit | integration | molecule) stages+=("$arg") ;;
        *) die "unknown stage: $arg (expected one of ${ALL_STAGES[*]} all)" ;;
    esac
done

RESULTS_FILE=$(mktemp "${TMPDIR:-/tmp}/mt5crs-test-results.XXXXXX")
trap 'rm -f "$RESULTS_FILE"' EXIT
SUITE_START=$SECONDS
failed=0
for stage in "${stages[@]}"; do
    run_stage "$stage" || failed=1
done

if [[ ${#stages[@]} -gt 1 || " ${stages[*]} " == *" molecule "* ]]; then
    summary "$([[ $failed -eq 0 ]] && echo passed || echo FAILED)"
fi
exit "$failed"
