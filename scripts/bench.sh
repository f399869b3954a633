#!/usr/bin/env bash
# The benchmarks, one command:
#
#   scripts/bench.sh            full mode: every scenario 3 times; figures written into BENCHMARKS.md
#   scripts/bench.sh --quick    smaller sizes, once each; figures printed only
#   scripts/bench.sh [--quick] [--reps N] [--perf]
#                    [--only budget-30,paid-1000,limits-off,materialise,ingress]
#
# Two parts, broadcast first: `bench broadcast` (the four broadcast scenarios) and `bench
# ingress` (/start updates through nginx into the whole fleet at 40 and 100 connections, HTTP
# and HTTPS, against nginx in front of a bare axum 200 in the same run). `--only ingress` runs
# the ingress part alone; in full mode it then still writes its own block of BENCHMARKS.md.
#
# Builds the harness and the services in release mode, starts a private Postgres and
# Redis trio with its Sentinels (scripts/infra.sh, scratch in .scratch/bench), runs
# `target/release/bench`, and stops the servers again. Everything listens on loopback; every run is
# bounded (the harness gives up on a campaign long past its expected end, and this script
# stops the harness after BENCH_TIMEOUT seconds). The harness reports figures and never
# fails because the machine is slow; it exits non-zero when a correctness check fails
# (a duplicate delivery, a lost recipient, an outcome not recorded, an update answered twice
# or answered 200 without its reply).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

export STARSHOP_SCRATCH="${STARSHOP_SCRATCH:-$REPO_ROOT/.scratch/bench}"

quick=0
write=1
only=""
pass=() # every argument but --only and its value
prev=""
for arg in "$@"; do
    if [[ $prev == --only ]]; then
        only=$arg
        prev=""
        continue
    fi
    case "$arg" in
        --quick) quick=1 ;;
        --write) write=0 ;; # the caller names the file
    esac
    [[ $arg != --only ]] && pass+=("$arg")
    prev=$arg
done
run_broadcast=0
run_ingress=0
bc_keys=""
if [[ -z $only ]]; then
    run_broadcast=1
    run_ingress=1
else
    IFS=, read -ra keys <<<"$only"
    for k in "${keys[@]}"; do
        if [[ $k == ingress ]]; then run_ingress=1; else bc_keys+="${bc_keys:+,}$k"; fi
    done
    [[ -n $bc_keys ]] && run_broadcast=1
fi
bc_args=(broadcast "${pass[@]}")
[[ -n $bc_keys ]] && bc_args+=(--only "$bc_keys")
in_args=(ingress "${pass[@]}")
# Only a full run of every scenario replaces the figures in BENCHMARKS.md; the ingress part
# is one scenario set, so a full `--only ingress` writes its block too.
if [[ $quick -eq 0 && $write -eq 1 && " ${pass[*]} " != *" --reps "* ]]; then
    # ... and every broadcast scenario, with or without --only naming them all.
    all_bc=$(tr ',' '\n' <<<"$bc_keys" | sort -u | paste -sd,)
    if [[ -z $only || $all_bc == budget-30,limits-off,materialise,paid-1000 ]]; then
        bc_args+=(--write "$REPO_ROOT/BENCHMARKS.md")
    fi
    in_args+=(--write "$REPO_ROOT/BENCHMARKS.md")
fi
timeout_s="${BENCH_TIMEOUT:-$([[ $quick -eq 1 ]] && echo 900 || echo 3600)}"

"$REPO_ROOT/scripts/deps.sh"
echo "==> build (release)"
# One build per package, not one for all: built together, cargo would unify the features of
# the packages' dependencies, and a service measured would not be the one `-p <service>` builds.
packages=(broadcast)
[[ $run_ingress -eq 1 ]] && packages=(sandbox gateway bot payments broadcast)
for p in "${packages[@]}" bench; do
    cargo build --release -p "$p"
done
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

# SIGTERM on timeout: the harness kills the processes it started, then exits.
if [[ $run_broadcast -eq 1 ]]; then
    echo "==> bench ${bc_args[*]} (at most ${timeout_s}s; service logs in $target_dir/bench/logs)"
    timeout --signal=TERM --kill-after=30 "$timeout_s" "$target_dir/release/bench" "${bc_args[@]}"
fi
if [[ $run_ingress -eq 1 ]]; then
    echo "==> bench ${in_args[*]} (at most ${timeout_s}s; service logs in $target_dir/bench/logs)"
    timeout --signal=TERM --kill-after=30 "$timeout_s" "$target_dir/release/bench" "${in_args[@]}"
fi
