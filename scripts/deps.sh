#!/usr/bin/env bash
# Install what the tests and the sandbox demo need, and only what is missing.
#
#   scripts/deps.sh            what the fleet and the demo need
#   scripts/deps.sh --tests    and what only the tests need (Chromium + ChromeDriver for
#                              the console's browser test)
#
# Debian packages: PostgreSQL server binaries, redis-server, nginx, openssl, curl,
# ca-certificates (and build-essential if there is no C compiler); and the Rust toolchain
# when cargo is missing or older than the workspace's rust-version (rustup, stable).
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
if [[ ${1:-} == --tests ]]; then
    [[ -x /usr/bin/chromium ]] || missing+=(chromium)
    [[ -x /usr/bin/chromedriver ]] || missing+=(chromium-driver)
fi

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

# The Rust toolchain: the workspace's rust-version or newer. Missing or too old, install a
# stable one with rustup (from Debian's package when rustup itself is missing).
[[ -x "$HOME/.cargo/bin/cargo" ]] && export PATH="$HOME/.cargo/bin:$PATH"
want="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../Cargo.toml" | head -n1)"
version_ok() { # version_ok HAVE WANT: HAVE >= WANT
    [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}
have="$(cargo --version 2>/dev/null | awk '{print $2}' || true)"
if [[ -z $have ]] || ! version_ok "$have" "$want"; then
    log "Rust ${have:-not found}; the workspace needs >= $want: installing a stable toolchain with rustup"
    if ! command -v rustup >/dev/null; then
        # Debian 13 packages rustup; on older releases use rustup's own installer.
        "${SUDO[@]}" apt-get update -qq || true
        if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends rustup 2>/dev/null; then
            curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
                sh -s -- -y --profile minimal --default-toolchain none || {
                log "could not get rustup (no network?); install Rust >= $want yourself (https://rustup.rs)" >&2
                exit 1
            }
            export PATH="$HOME/.cargo/bin:$PATH"
        fi
    fi
    if ! rustup toolchain install stable --profile minimal -c rustfmt -c clippy ||
        ! rustup default stable; then
        log "rustup could not download a toolchain (no network?); install Rust >= $want yourself" >&2
        exit 1
    fi
    export PATH="$HOME/.cargo/bin:$PATH"
    have="$(cargo --version | awk '{print $2}')"
    version_ok "$have" "$want" || { log "cargo $have is still older than $want" >&2; exit 1; }
    log "cargo $have installed; new shells need: source ~/.cargo/env"
fi

# cargo-nextest is optional: test.sh falls back to `cargo test` without it, because
# building nextest from source takes minutes we'd rather not spend in CI.
if ! cargo nextest --version >/dev/null 2>&1; then
    log "cargo-nextest not found: tests will run with 'cargo test' (install: cargo install cargo-nextest --locked)"
fi
log "ok"
