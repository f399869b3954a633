#!/usr/bin/env bash
# The broadcast benchmarks, one command:
#
#   scripts/bench.sh            full mode: every scenario 3 times; figures written into BENCHMARKS.md
#   scripts/bench.sh --quick    smaller sizes, once each; figures printed only
#   scripts/bench.sh [--quick] [--reps N] [--only budget-30,paid-1000,limits-off,materialise]
#
# Builds the harness and the broadcast service in release mode, starts a private Postgres and
# Redis trio (scripts/infra.sh, scratch in .scratch/bench), runs `target/release/bench
# broadcast`, and stops the servers again. Everything listens on loopback; every run is
# bounded (the harness gives up on a campaign long past its expected end, and this script
# stops the harness after BENCH_TIMEOUT seconds). The harness reports figures and never
# fails because the machine is slow; it exits non-zero when a correctness check fails
# (a duplicate delivery, a lost recipient, an outcome not recorded).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

export STARSHOP_SCRATCH="${STARSHOP_SCRATCH:-$REPO_ROOT/.scratch/bench}"

quick=0
write=1
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        --write) write=0 ;; # the caller names the file
    esac
done
args=(broadcast "$@")
# Only a full run of every scenario replaces the figures in BENCHMARKS.md.
if [[ $quick -eq 0 && $write -eq 1 && " $* " != *" --only "* && " $* " != *" --reps "* ]]; then
    args+=(--write "$REPO_ROOT/BENCHMARKS.md")
fi
timeout_s="${BENCH_TIMEOUT:-$([[ $quick -eq 1 ]] && echo 900 || echo 3600)}"

"$REPO_ROOT/scripts/deps.sh"
echo "==> build (release)"
# Two builds, not one: built together, cargo would unify the features of both packages'
# dependencies, and the service measured would not be the one `-p broadcast` builds.
cargo build --release -p broadcast
cargo build --release -p bench
target_dir="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"

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

echo "==> bench ${args[*]} (at most ${timeout_s}s; service logs in $target_dir/bench/logs)"
# SIGTERM on timeout: the harness kills the broadcast processes it started, then exits.
timeout --signal=TERM --kill-after=30 "$timeout_s" "$target_dir/release/bench" "${args[@]}"
