#!/usr/bin/env bash
# Stop a fleet started by scripts/up.sh, by its PID files (services in reverse start
# order, then Postgres and Redis via infra.sh down). Safe to run when nothing is running.
#
#   scripts/down.sh          (STARSHOP_SCRATCH defaults to <repo>/.scratch/demo, as up.sh)
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export STARSHOP_SCRATCH="${STARSHOP_SCRATCH:-$REPO_ROOT/.scratch/demo}"
FLEET_PIDS="$STARSHOP_SCRATCH/fleet-pids"

if compgen -G "$FLEET_PIDS/*.pid" >/dev/null; then
    # Reverse order: nginx first (no new requests), the gateway, the services, the sandbox.
    while read -r f; do
        name="$(basename "$f" .pid)"
        stop_pidfile "$f" TERM
        echo "down.sh: stopped ${name#*-}"
    done < <(printf '%s\n' "$FLEET_PIDS"/*.pid | sort -r)
fi
"$REPO_ROOT/scripts/infra.sh" down
