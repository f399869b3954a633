#!/usr/bin/env bash
# Install what the tests and the sandbox demo need, and only what is missing.
#
#   scripts/deps.sh
#
# Debian packages: PostgreSQL server binaries, redis-server, nginx, openssl, curl,
# ca-certificates (and build-essential if there is no C compiler). The Rust toolchain is
# not installed here (rustup is preinstalled on our machines); we only check for it.
# Idempotent and quiet when everything is present: test.sh and up.sh call it every time.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

log() { echo "deps.sh: $*"; }

# apt needs root; fall back to sudo for a developer's unprivileged shell.
SUDO=()
if [[ $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null; then
        SUDO=(sudo -n)
    fi
fi

missing=()
# The postgres server binaries live outside PATH (/usr/lib/postgresql/<ver>/bin); the
# client-only package would satisfy `command -v psql` but not initdb/postgres.
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    missing+=(postgresql)
fi
command -v redis-server >/dev/null || missing+=(redis-server)
# /usr/sbin is not on every user's PATH, so look there explicitly too.
if ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
    missing+=(nginx-light)
fi
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
[[ -e /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
command -v cc >/dev/null || missing+=(build-essential)

if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $EUID -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
        log "missing packages: ${missing[*]}; not root and no sudo, install them yourself" >&2
        exit 1
    fi
    log "installing: ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq
    # Debian's postinst starts system redis/nginx/postgres on their default ports where
    # an init system exists; our scripts never use those (they run private instances on
    # free ports), so that is harmless and we leave them alone.
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null; then
    if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
        log "cargo is in ~/.cargo/bin but not on PATH: run 'source ~/.cargo/env'" >&2
    else
        log "cargo not found: install the Rust toolchain with rustup (https://rustup.rs)" >&2
    fi
    exit 1
fi

# cargo-nextest is optional: test.sh falls back to `cargo test` without it, because
# building nextest from source takes minutes we'd rather not spend in CI.
if ! cargo nextest --version >/dev/null 2>&1; then
    log "cargo-nextest not found: tests will run with 'cargo test' (install: cargo install cargo-nextest --locked)"
fi
log "ok"
