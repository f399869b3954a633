#!/usr/bin/env bash
# (Functions below run through `step` and `trap`, which shellcheck can't follow.)
# shellcheck disable=SC2317
# THE one command that runs every check and test:
#
#   scripts/test.sh [extra args for cargo nextest run / cargo test]
#
# deps.sh -> infra.sh up (Postgres + Redis trio on free ports; stopped again on exit)
# -> cargo fmt --check -> cargo clippy -D warnings -> cargo nextest run (or cargo test)
# with the infra env (TEST_DATABASE_URL, REDIS_*) exported. Every step runs even when an
# earlier one failed, so one run reports everything; the exit code is non-zero if any did.
#
# STARSHOP_SCRATCH (default <repo>/.scratch/test) holds the servers' data and logs.
# CARGO_TARGET_DIR is honoured (cargo reads it). Used by .ci/run.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# A scratch of its own, so a running demo (scripts/up.sh) and a test run don't share servers.
export STARSHOP_SCRATCH="${STARSHOP_SCRATCH:-$REPO_ROOT/.scratch/test}"
# CI has no terminal; keep cargo's output plain and the logs readable.
if [[ -n ${CI:-} ]]; then
    export CARGO_TERM_COLOR=never CARGO_TERM_PROGRESS_WHEN=never
fi

started=$SECONDS
declare -a summary=()
failed=0
step() { # step NAME COMMAND...: run, time and record the outcome of one check
    local name=$1 t0=$SECONDS rc=0
    shift
    echo "==> $name"
    "$@" || rc=$?
    if [[ $rc -eq 0 ]]; then
        summary+=("$(printf '  %-8s ok      %4ss' "$name" $((SECONDS - t0)))")
    else
        summary+=("$(printf '  %-8s FAILED  %4ss (exit %s)' "$name" $((SECONDS - t0)) "$rc")")
        failed=1
    fi
    return 0
}

"$REPO_ROOT/scripts/deps.sh" --tests

cleanup() {
    "$REPO_ROOT/scripts/infra.sh" down >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "==> infra"
"$REPO_ROOT/scripts/infra.sh" up
# shellcheck disable=SC1091
source "$STARSHOP_SCRATCH/infra.env"

step fmt cargo fmt --all -- --check
step clippy cargo clippy --workspace --all-targets -- -D warnings

tests_log="$STARSHOP_SCRATCH/logs/tests.log"
rm -f "$tests_log"
runner=""
run_tests() {
    # tee keeps the runner's output on the console and lets us repeat its verdict last
    # (pipefail, set above, keeps the runner's exit code).
    if cargo nextest --version >/dev/null 2>&1; then
        runner=nextest
        # --no-tests=warn: a workspace without tests yet isn't a failure; nextest still
        # prints its "Summary [...] N tests run: N passed" line.
        cargo nextest run --workspace --no-fail-fast --no-tests=warn "$@" 2>&1 | tee "$tests_log"
    else
        runner=cargo-test
        echo "(cargo-nextest not installed; using cargo test)"
        cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$tests_log"
    fi
}
step tests run_tests "$@"

echo
echo "==> summary ($((SECONDS - started))s; infra logs in $STARSHOP_SCRATCH/logs)"
printf '%s\n' "${summary[@]}"
# Repeat the test runner's own verdict as the last line, where CI looks for it.
if [[ -f $tests_log ]]; then
    if [[ $runner == nextest ]]; then
        grep -E '^ *Summary \[' "$tests_log" | tail -n1 || true
    else
        awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) } }
             END { if (NR) printf "%d passed, %d failed\n", p, f }' "$tests_log"
    fi
fi
exit "$failed"
