#!/usr/bin/env bash
# The sandbox demo: the whole fleet on this machine, no real tokens, one command.
#
#   scripts/up.sh [--no-wait] [--no-build]
#
#   --no-wait   run the demo (a simulated customer buys a star pack), then stop everything and
#               exit with the demo's status: a smoke check
#   --no-build  don't run `cargo build --bins` (use what is already built)
#
# deps.sh -> cargo build --bins -> infra.sh up (Postgres, Redis trio) -> self-signed cert
# -> sandbox serve (fake Telegram + fake Heleket) -> payments, broadcast, bot, gateway
# -> nginx (8080/8443 when free) -> wait for GET /health through nginx -> sandbox simulate
# -> wait for Ctrl-C, then stop everything that was started, by PID.
#
# STARSHOP_SCRATCH (default <repo>/.scratch/demo) holds logs ($SCRATCH/logs/*.log), PIDs
# and data. STARSHOP_BIN_DIR uses binaries from that dir instead of cargo's target/debug.
# NGX_TRUSTED_PROXIES (default "127.0.0.1/32") lists proxies nginx takes X-Forwarded-For from.
# scripts/down.sh stops a fleet left running (e.g. after the terminal was closed).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

wait_forever=1
build=1
for arg in "$@"; do
    case "$arg" in
        --no-wait) wait_forever=0 ;;
        --no-build) build=0 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "up.sh: unknown argument $arg (try --help)" >&2; exit 2 ;;
    esac
done

# Its own scratch: the demo and a test run (scripts/test.sh) never share servers.
export STARSHOP_SCRATCH="${STARSHOP_SCRATCH:-$REPO_ROOT/.scratch/demo}"
SCRATCH="$STARSHOP_SCRATCH"
FLEET_PIDS="$SCRATCH/fleet-pids"
LOGS="$SCRATCH/logs"
log() { echo "up.sh: $*"; }

"$REPO_ROOT/scripts/deps.sh"

if [[ -n ${STARSHOP_BIN_DIR:-} ]]; then
    BIN_DIR="$STARSHOP_BIN_DIR"
else
    if [[ $build -eq 1 ]]; then
        log "building (cargo build --bins)"
        cargo build --bins
    fi
    BIN_DIR="$(cargo_target_dir)/debug"
fi
for b in sandbox gateway bot payments broadcast admin; do
    [[ -x $BIN_DIR/$b ]] || { log "no $BIN_DIR/$b (build failed or --no-build without a build)" >&2; exit 1; }
done

# A fleet from an earlier run in this scratch (terminal closed, kill -9): stop it first.
"$REPO_ROOT/scripts/down.sh" >/dev/null 2>&1 || true
mkdir -p "$FLEET_PIDS" "$LOGS"

# From here on, any exit (error, Ctrl-C, --no-wait) stops everything we started.
stopping=0
cleanup() {
    [[ $stopping -eq 1 ]] && return
    stopping=1
    echo
    log "stopping the fleet"
    "$REPO_ROOT/scripts/down.sh" || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$REPO_ROOT/scripts/infra.sh" up
# shellcheck disable=SC1091
source "$SCRATCH/infra.env"

SSL_DIR="$SCRATCH/ssl"
"$REPO_ROOT/ssl/generate-ssl.sh" "$SSL_DIR" >/dev/null

# Well-known ports when free; otherwise free ones (and the table below says which).
tg_port="$(port_or_free 8091)"
hk_port="$(port_or_free 8092)"
http_port="$(port_or_free 8080)"
https_port="$(port_or_free 8443)"
gw_port="$(free_port)"
bot_port="$(free_port)"
pay_port="$(free_port)"
bc_port="$(free_port)"
adm_port="$(free_port)"

# --- the fleet's environment: the seed's variables plus ours, sandbox values ---------
# The sandbox's fake Heleket accepts this merchant and key (it reads the same variables).
export TELEGRAM_TOKEN="123456:SANDBOX-token"
export TELEGRAM_API_BASE="http://127.0.0.1:$tg_port"
export HELEKET_API_BASE="http://127.0.0.1:$hk_port"
export MERCHANT_UUID="${MERCHANT_UUID:-00000000-0000-4000-8000-000000000001}"
export API_KEY="${API_KEY:-sandbox-api-key}"
TELEGRAM_WEBHOOK_SECRET="$(openssl rand -hex 24)"
export TELEGRAM_WEBHOOK_SECRET
export WEBHOOK_HOST="https://127.0.0.1"
export WEBHOOK_PORT="$https_port"
export WEBHOOK_PATH="${WEBHOOK_PATH:-/webhook}"
export SSL_CERT_PATH="$SSL_DIR/cert.pem"
export SSL_KEY_PATH="$SSL_DIR/key.pem"
export ENVIRONMENT=sandbox
export LOG_LEVEL="${LOG_LEVEL:-info}"
export ADMIN_IDS="${ADMIN_IDS:-10000}"
# The fake Heleket calls back from loopback.
export HELEKET_ALLOWED_IPS="127.0.0.1"
export REDIS_KEY_PREFIX="starshop:demo:"
export SANDBOX_TELEGRAM_LISTEN="127.0.0.1:$tg_port"
export SANDBOX_HELEKET_LISTEN="127.0.0.1:$hk_port"
export GATEWAY_LISTEN="127.0.0.1:$gw_port"
export BOT_LISTEN="127.0.0.1:$bot_port"
export PAYMENTS_LISTEN="127.0.0.1:$pay_port"
export BROADCAST_LISTEN="127.0.0.1:$bc_port"
export ADMIN_LISTEN="127.0.0.1:$adm_port"
export BOT_GRPC_URL="http://127.0.0.1:$bot_port"
export PAYMENTS_GRPC_URL="http://127.0.0.1:$pay_port"
export BROADCAST_GRPC_URL="http://127.0.0.1:$bc_port"

# start NN-NAME COMMAND...: run in the background, log to $LOGS/NAME.log, record the PID.
# NN orders the PID files so down.sh stops in reverse start order.
start() {
    local id=$1 name=${1#*-}
    shift
    "$@" >"$LOGS/$name.log" 2>&1 &
    record_pid "$FLEET_PIDS" "$id" $!
}

# wait_up NAME PORT: until PORT accepts, failing early (with the log) if NAME died.
wait_up() {
    local name=$1 port=$2 f pid
    f="$(compgen -G "$FLEET_PIDS/*-$name.pid" | head -n1)"
    read -r pid _ <"$f"
    for _ in $(seq 1 300); do
        if port_open 127.0.0.1 "$port"; then return 0; fi
        if ! pid_alive "$pid"; then
            log "$name exited during start-up; last lines of $LOGS/$name.log:" >&2
            tail -n 30 "$LOGS/$name.log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
    log "$name did not listen on port $port within 60 s (log: $LOGS/$name.log)" >&2
    return 1
}

log "starting the sandbox (fake Telegram :$tg_port, fake Heleket :$hk_port)"
start 10-sandbox "$BIN_DIR/sandbox" serve
wait_up sandbox "$tg_port"
wait_up sandbox "$hk_port"

# The gateway comes last: the services it hands updates to are up by then.
start 20-payments "$BIN_DIR/payments"
start 21-broadcast "$BIN_DIR/broadcast"
start 22-bot "$BIN_DIR/bot"
wait_up payments "$pay_port"
wait_up broadcast "$bc_port"
wait_up bot "$bot_port"
# The first owner of the admin API (ADMIN_OWNER_LOGIN/_PASSWORD), for trying it by hand.
# A signing key of the demo's own, so the admin API does not warn that it made one up.
start 23-admin env ADMIN_JWT_SECRET="${ADMIN_JWT_SECRET:-$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')}" \
    ADMIN_OWNER_LOGIN="${ADMIN_OWNER_LOGIN:-owner}" \
    ADMIN_OWNER_PASSWORD="${ADMIN_OWNER_PASSWORD:-sandbox-owner-password}" "$BIN_DIR/admin"
wait_up admin "$adm_port"
start 30-gateway "$BIN_DIR/gateway"
wait_up gateway "$gw_port"

# render_nginx_conf reads these NGX_* shell variables (see nginx/nginx.conf.template).
# shellcheck disable=SC2034 # read indirectly, by name
{
    NGX_PREFIX="$SCRATCH/nginx"
    NGX_LOG_DIR="$NGX_PREFIX/logs"
    NGX_HTTP_PORT="$http_port"
    NGX_HTTPS_PORT="$https_port"
    NGX_GATEWAY="127.0.0.1:$gw_port"
    NGX_ADMIN="127.0.0.1:$adm_port"
    NGX_CERT="$SSL_CERT_PATH"
    NGX_KEY="$SSL_KEY_PATH"
    NGX_WEBHOOK_PATH="$WEBHOOK_PATH"
    NGX_WORKER_PROCESSES=1
    NGX_PROXY_READ_TIMEOUT="${NGINX_PROXY_READ_TIMEOUT:-30}s"
}
NGX_REAL_IP_FROM=""
for p in ${NGX_TRUSTED_PROXIES:-127.0.0.1/32}; do
    NGX_REAL_IP_FROM+="set_real_ip_from $p; "
done
mkdir -p "$NGX_LOG_DIR"
render_nginx_conf "$NGX_PREFIX/nginx.conf"
# -e: errors before the config is read would otherwise go to /var/log/nginx.
start 40-nginx "$(nginx_bin)" -p "$NGX_PREFIX" -c "$NGX_PREFIX/nginx.conf" \
    -e "$NGX_PREFIX/logs/error.log" -g 'daemon off;'
wait_up nginx "$https_port"

health_ok() {
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/health")" == 200 ]]
}
log "waiting for GET /health through nginx to answer 200"
if ! wait_for "GET /health via nginx" 60 health_ok; then
    log "the fleet is not healthy; /health says:" >&2
    curl -s "http://127.0.0.1:$http_port/health" >&2 || true
    echo >&2
    exit 1
fi

note() { [[ $1 == "$2" ]] || printf '  (%s was taken)' "$2"; }
cat <<TABLE

  Sandbox fleet is up (logs: $LOGS)
  ---------------------------------------------------------------------------
  nginx (HTTP)      http://127.0.0.1:$http_port$(note "$http_port" 8080)
  nginx (HTTPS)     https://127.0.0.1:$https_port$(note "$https_port" 8443)   self-signed: $SSL_CERT_PATH
  webhook           https://127.0.0.1:$https_port$WEBHOOK_PATH
  gateway           http://$GATEWAY_LISTEN
  bot               $BOT_LISTEN        (gRPC, /health, /metrics)
  payments          $PAYMENTS_LISTEN        (gRPC, /health, /metrics)
  broadcast         $BROADCAST_LISTEN        (gRPC, /health, /metrics)
  admin API         http://127.0.0.1:$http_port/admin/api/v1   (owner: ${ADMIN_OWNER_LOGIN:-owner} / ${ADMIN_OWNER_PASSWORD:-sandbox-owner-password})
  fake Telegram     $TELEGRAM_API_BASE$(note "$tg_port" 8091)
  fake Heleket      $HELEKET_API_BASE$(note "$hk_port" 8092)
  postgres          $DATABASE_URL
  redis             master $REDIS_MASTER_HOST:$REDIS_MASTER_PORT, replicas :$REDIS_SLAVE1_PORT :$REDIS_SLAVE2_PORT
  ---------------------------------------------------------------------------

TABLE

log "a simulated customer (user 10001) sends /start, buys the 100-star pack and pays it:"
demo_rc=0
"$BIN_DIR/sandbox" simulate --telegram "$TELEGRAM_API_BASE" --heleket "$HELEKET_API_BASE" \
    --user-id 10001 --purchase 100 || demo_rc=$?
if [[ $demo_rc -ne 0 ]]; then
    log "the simulated purchase did not complete (exit $demo_rc); see $LOGS/*.log" >&2
fi

if [[ $demo_rc -eq 0 ]]; then
    log "the simulated admin (user ${ADMIN_IDS%%,*}) sends a campaign to 300 simulated subscribers:"
    "$BIN_DIR/sandbox" simulate --telegram "$TELEGRAM_API_BASE" --user-id "${ADMIN_IDS%%,*}" \
        --first-name Admin --broadcast 300 || demo_rc=$?
    if [[ $demo_rc -ne 0 ]]; then
        log "the simulated broadcast did not complete (exit $demo_rc); see $LOGS/*.log" >&2
    fi
fi

if [[ $demo_rc -eq 0 ]]; then
    log "the owner signs in to the admin API and looks the customer up:"
    admin_api="http://127.0.0.1:$http_port/admin/api/v1"
    signin="$(curl -sS "$admin_api/auth/login" -H 'content-type: application/json' \
        -d "{\"login\":\"${ADMIN_OWNER_LOGIN:-owner}\",\"password\":\"${ADMIN_OWNER_PASSWORD:-sandbox-owner-password}\"}")" || demo_rc=$?
    access="$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' <<<"$signin")"
    if [[ -n $access ]]; then
        curl -sS "$admin_api/users/10001" -H "authorization: Bearer $access" | head -c 600
        echo
        log "... and sees the bot's campaign, with its counts, through the API:"
        curl -sS "$admin_api/campaigns?limit=1" -H "authorization: Bearer $access" |
            grep -o '"status":"[a-z]*"\|"progress":{[^}]*}' | head -n 2
    else
        log "admin sign-in failed: $signin" >&2
        demo_rc=1
    fi
fi

if [[ $wait_forever -eq 0 ]]; then
    exit "$demo_rc"
fi

log "the fleet keeps running; try: $BIN_DIR/sandbox simulate --telegram $TELEGRAM_API_BASE --user-id 10001 --text /balance"
log "press Ctrl-C to stop everything"
# Report (once) any process that dies while we wait, then keep serving the rest.
declare -A reported=()
while true; do
    for f in "$FLEET_PIDS"/*.pid; do
        [[ -f $f ]] || continue
        read -r pid _ <"$f"
        name="$(basename "$f" .pid)"
        if ! pid_alive "$pid" && [[ -z ${reported[$name]:-} ]]; then
            reported[$name]=1
            log "${name#*-} exited; see $LOGS/${name#*-}.log" >&2
        fi
    done
    sleep 2
done
