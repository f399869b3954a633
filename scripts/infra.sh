#!/usr/bin/env bash
# Private Postgres, Redis (master + 2 replicas) and three Redis Sentinels for tests and the demo.
#
#   scripts/infra.sh up       start them on free loopback ports, write $SCRATCH/infra.env
#   scripts/infra.sh down     stop what `up` started (by recorded PID); safe to repeat
#   scripts/infra.sh env      print infra.env (use: eval "$(scripts/infra.sh env)")
#   scripts/infra.sh status   show the recorded processes and whether they answer
#
# SCRATCH is $STARSHOP_SCRATCH, default <repo>/.scratch. Everything lives there (data,
# logs in $SCRATCH/logs, PIDs in $SCRATCH/pids), so it never touches a system Postgres,
# Redis or nginx that apt may have started on the default ports.
#
# Bring your own servers: if DATABASE_URL or TEST_DATABASE_URL is set, that Postgres is used
# and none is started; if REDIS_MASTER_HOST is set, that Redis (and REDIS_SLAVE{1,2}_*,
# REDIS_SENTINELS) is. Our own Redis comes with Sentinels: infra.env sets REDIS_SENTINELS,
# so the services find the master through them, as in docker compose.
# REDIS_PASSWORD, when set, becomes requirepass/masterauth of the Redis we start.
# -E: the ERR trap in cmd_up must also fire inside the functions it calls.
set -Eeuo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCRATCH="${STARSHOP_SCRATCH:-$REPO_ROOT/.scratch}"
mkdir -p "$SCRATCH"
SCRATCH="$(cd "$SCRATCH" && pwd)"
PIDS="$SCRATCH/pids"
LOGS="$SCRATCH/logs"
ENV_FILE="$SCRATCH/infra.env"

log() { echo "infra.sh: $*" >&2; }

pg_bindir() {
    if [[ -n ${PG_BIN:-} ]]; then echo "$PG_BIN"; return; fi
    local d
    d="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1)"
    if [[ -z $d ]]; then
        log "no PostgreSQL server binaries under /usr/lib/postgresql (run scripts/deps.sh)"
        return 1
    fi
    echo "$d"
}

# Postgres refuses to run as root: as root, run its tools as the `postgres` user.
as_pg() {
    if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

redis_cli() { # redis_cli PORT ARGS...
    local port=$1
    shift
    # An empty REDISCLI_AUTH would still send AUTH "" and fail: only set it with a password.
    if [[ -n ${REDIS_PASSWORD:-} ]]; then
        REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p "$port" --no-auth-warning "$@"
    else
        redis-cli -h 127.0.0.1 -p "$port" "$@"
    fi
}

start_postgres() {
    local bin pg_dir data port ok=0
    bin="$(pg_bindir)"
    pg_dir="$SCRATCH/pg"
    mkdir -p "$pg_dir"
    if [[ $EUID -eq 0 ]]; then
        chown postgres: "$pg_dir"
        # The postgres user must be able to reach its directory; a clone under a 0700
        # home (or /root) isn't traversable for it, so use a private dir in /tmp then.
        if ! runuser -u postgres -- test -w "$pg_dir"; then
            pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/starshop-pg.XXXXXX")"
            chown postgres: "$pg_dir"
            log "postgres can't reach $SCRATCH; using $pg_dir"
        fi
    fi
    echo "$pg_dir" >"$SCRATCH/pg.dir"
    data="$pg_dir/data"
    # A fresh cluster every time: tests make their own databases, nothing is worth keeping.
    as_pg rm -rf "$data"
    as_pg "$bin/initdb" -D "$data" -U postgres -A trust -E UTF8 --no-locale --no-sync \
        >"$LOGS/initdb.log" 2>&1 || { log "initdb failed:"; cat "$LOGS/initdb.log" >&2; return 1; }

    # TLS with a private CA and a certificate for "localhost" only, so tests can prove that
    # DATABASE_URL's ssl=require verifies the chain (fails without sslrootcert) and the host
    # name (fails for 127.0.0.1). Plain connections keep working for everything else.
    make_pg_tls "$pg_dir/tls"

    # Durability is pointless for a throwaway server and fsync dominates test time.
    # Many tests run at once, each with pools of its own: allow plenty of connections.
    for _ in 1 2 3; do
        port="$(free_port)"
        if as_pg "$bin/pg_ctl" -D "$data" -l "$pg_dir/postgres.log" -w -t 60 -o \
            "-h 127.0.0.1 -p $port -k $pg_dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500 -c ssl=on -c ssl_cert_file=$pg_dir/tls/server.crt -c ssl_key_file=$pg_dir/tls/server.key" \
            start >/dev/null; then
            ok=1
            break
        fi
        log "postgres did not start on port $port; retrying"
    done
    if [[ $ok -ne 1 ]]; then
        log "postgres failed to start; log follows"
        tail -n 30 "$pg_dir/postgres.log" >&2 || true
        return 1
    fi
    record_pid "$PIDS" postgres "$(head -n1 "$data/postmaster.pid")"
    wait_for "postgres on port $port" 30 "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"

    # A superuser role: tests CREATE DATABASE per test and migrations may create
    # extensions. Trust auth only listens on 127.0.0.1, so the password is nominal.
    "$bin/psql" -q -X -v ON_ERROR_STOP=1 "postgresql://postgres@127.0.0.1:$port/postgres" \
        -c "CREATE ROLE starshop LOGIN SUPERUSER PASSWORD 'starshop'" \
        -c "CREATE DATABASE starshop OWNER starshop" >/dev/null
    PG_TLS_CA="$pg_dir/tls/ca.crt"
    PG_URL="postgres://starshop:starshop@127.0.0.1:$port/starshop"
    PG_ADMIN_URL="postgres://starshop:starshop@127.0.0.1:$port/postgres"
    log "postgres ready on 127.0.0.1:$port (data $data)"
}

make_pg_tls() { # make_pg_tls DIR: ca.crt, server.crt/key (CN and SAN localhost), owned by postgres
    local dir=$1
    mkdir -p "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=starshop test CA" \
        -keyout "$dir/ca.key" -out "$dir/ca.crt" >/dev/null 2>&1
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
        -keyout "$dir/server.key" -out "$dir/server.csr" >/dev/null 2>&1
    printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >"$dir/ext.cnf"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 2 -extfile "$dir/ext.cnf" -out "$dir/server.crt" >/dev/null 2>&1
    chmod 600 "$dir/server.key"
    [[ $EUID -eq 0 ]] && chown -R postgres: "$dir"
    chmod 644 "$dir/ca.crt"
}

start_redis() { # start_redis NAME ROLE(master|replica|sentinel) [MASTER_PORT]; sets REDIS_PORT
    local name=$1 role=$2 master_port=${3:-} dir conf port args
    dir="$SCRATCH/redis/$name"
    rm -rf "$dir"
    mkdir -p "$dir"
    # A private copy of the shipped config: after a failover the Sentinels run CONFIG
    # REWRITE on the nodes they repoint (and rewrite their own file), which must never
    # edit the repository. Passwords go into the copy, not onto the command line.
    conf="$dir/redis.conf"
    cp "$REPO_ROOT/redis/$role.conf" "$conf"
    if [[ $role == sentinel ]]; then
        sed -i -e "s/^sentinel monitor starshop redis-master 6379 2$/sentinel monitor starshop 127.0.0.1 $master_port 2/" \
            -e 's/^bind 0.0.0.0$/bind 127.0.0.1/' "$conf"
        grep -q "^sentinel monitor starshop 127.0.0.1 $master_port 2$" "$conf" ||
            { log "redis/sentinel.conf has no 'sentinel monitor starshop redis-master 6379 2' line"; return 1; }
        if [[ -n ${REDIS_PASSWORD:-} ]]; then
            printf 'requirepass %s\nsentinel auth-pass starshop %s\n' "$REDIS_PASSWORD" "$REDIS_PASSWORD" >>"$conf"
        fi
    elif [[ -n ${REDIS_PASSWORD:-} ]]; then
        printf 'requirepass %s\nmasterauth %s\n' "$REDIS_PASSWORD" "$REDIS_PASSWORD" >>"$conf"
    fi
    chmod 600 "$conf"
    for _ in 1 2 3; do
        port="$(free_port)"
        # Command-line overrides (later directives win) make the instance private:
        # loopback, free port, scratch paths.
        args=("$conf")
        [[ $role == sentinel ]] && args+=(--sentinel)
        args+=(--port "$port" --bind 127.0.0.1 --dir "$dir"
            --pidfile "$dir/redis.pid" --logfile "$LOGS/$name.log" --daemonize yes)
        [[ $role == replica ]] && args+=(--replicaof 127.0.0.1 "$master_port")
        rm -f "$dir/redis.pid"
        if redis-server "${args[@]}" && wait_for "$name pid file" 10 test -s "$dir/redis.pid" &&
            wait_for "$name on port $port" 10 redis_pong "$port"; then
            record_pid "$PIDS" "$name" "$(cat "$dir/redis.pid")"
            REDIS_PORT=$port
            return 0
        fi
        log "$name did not start on port $port; retrying (log: $LOGS/$name.log)"
        if [[ -s $dir/redis.pid ]]; then kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; fi
    done
    tail -n 20 "$LOGS/$name.log" >&2 || true
    return 1
}

redis_pong() { [[ "$(redis_cli "$1" ping 2>/dev/null)" == PONG ]]; }

replica_linked() { # replica_linked PORT: true once the replica has synced with its master
    redis_cli "$1" info replication | grep -q '^master_link_status:up'
}

sentinel_ready() { # sentinel_ready PORT: it knows both replicas and the other two Sentinels
    redis_cli "$1" info sentinel | grep -q 'slaves=2,sentinels=3'
}

all_alive() {
    local f pid
    compgen -G "$PIDS/*.pid" >/dev/null || return 1
    for f in "$PIDS"/*.pid; do
        read -r pid _ <"$f"
        pid_alive "$pid" || return 1
    done
}

cmd_up() {
    if [[ -f $ENV_FILE ]] && all_alive; then
        log "already up ($ENV_FILE)"
        return 0
    fi
    cmd_down >/dev/null 2>&1 || true
    mkdir -p "$PIDS" "$LOGS"
    # If anything below fails, don't leave half a fleet running.
    trap 'log "up failed; stopping what was started"; cmd_down >/dev/null 2>&1 || true' ERR

    # DATABASE_URL from our own earlier infra.env (a shell that sourced it) is not "yours".
    local db_url=${DATABASE_URL:-} test_url=${TEST_DATABASE_URL:-}
    if [[ -n ${STARSHOP_INFRA_PG_URL:-} && $db_url == "$STARSHOP_INFRA_PG_URL" ]]; then
        db_url="" test_url=""
    fi
    local owned_pg=""
    if [[ -n $db_url || -n $test_url ]]; then
        PG_URL=${db_url:-$test_url}
        PG_ADMIN_URL=${test_url:-$db_url}
        log "using the Postgres from the environment"
    else
        start_postgres
        owned_pg=$PG_URL
    fi

    local rm_host=${REDIS_MASTER_HOST:-} owned_redis=""
    if [[ -n ${STARSHOP_INFRA_REDIS:-} && "$rm_host:${REDIS_MASTER_PORT:-}" == "$STARSHOP_INFRA_REDIS" ]]; then
        rm_host=""
    fi
    local m_host m_port s1_host s1_port s2_host s2_port sentinels=${REDIS_SENTINELS:-}
    if [[ -n $rm_host ]]; then
        m_host=$rm_host m_port=${REDIS_MASTER_PORT:-6379}
        s1_host=${REDIS_SLAVE1_HOST:-$m_host} s1_port=${REDIS_SLAVE1_PORT:-$m_port}
        s2_host=${REDIS_SLAVE2_HOST:-$m_host} s2_port=${REDIS_SLAVE2_PORT:-$m_port}
        log "using the Redis from the environment"
    else
        start_redis redis-master master
        m_host=127.0.0.1 m_port=$REDIS_PORT
        start_redis redis-replica-1 replica "$m_port"
        s1_host=127.0.0.1 s1_port=$REDIS_PORT
        start_redis redis-replica-2 replica "$m_port"
        s2_host=127.0.0.1 s2_port=$REDIS_PORT
        wait_for "redis-replica-1 to sync" 30 replica_linked "$s1_port"
        wait_for "redis-replica-2 to sync" 30 replica_linked "$s2_port"
        local i ports=()
        for i in 1 2 3; do
            start_redis "redis-sentinel-$i" sentinel "$m_port"
            ports+=("$REDIS_PORT")
        done
        for i in "${ports[@]}"; do
            wait_for "sentinel :$i to see the replicas and its peers" 30 sentinel_ready "$i"
        done
        sentinels="127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}"
        owned_redis="$m_host:$m_port"
        log "redis master 127.0.0.1:$m_port, replicas :$s1_port :$s2_port, sentinels :${ports[*]}"
    fi

    local tmp="$ENV_FILE.tmp"
    {
        echo "# Written by scripts/infra.sh up; source it (or: eval \"\$(scripts/infra.sh env)\")."
        printf 'export %s=%q\n' \
            DATABASE_URL "$PG_URL" \
            TEST_DATABASE_URL "$PG_ADMIN_URL" \
            REDIS_MASTER_HOST "$m_host" REDIS_MASTER_PORT "$m_port" \
            REDIS_SLAVE1_HOST "$s1_host" REDIS_SLAVE1_PORT "$s1_port" \
            REDIS_SLAVE2_HOST "$s2_host" REDIS_SLAVE2_PORT "$s2_port" \
            STARSHOP_SCRATCH "$SCRATCH"
        [[ -n ${REDIS_PASSWORD:-} ]] && printf 'export REDIS_PASSWORD=%q\n' "$REDIS_PASSWORD"
        [[ -n $sentinels ]] && printf 'export REDIS_SENTINELS=%q\nexport REDIS_SENTINEL_MASTER=starshop\n' "$sentinels"
        # Markers so a later `up` from a shell that sourced this file starts fresh
        # servers instead of mistaking these for user-provided ones.
        [[ -n $owned_pg ]] && printf 'export STARSHOP_INFRA_PG_URL=%q\n' "$owned_pg"
        # The CA of our Postgres's TLS certificate (for "localhost"); tests of TLS use it.
        [[ -n ${PG_TLS_CA:-} ]] && printf 'export TEST_PG_TLS_CA=%q\n' "$PG_TLS_CA"
        [[ -n $owned_redis ]] && printf 'export STARSHOP_INFRA_REDIS=%q\n' "$owned_redis"
        true
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
    trap - ERR
    log "up; env in $ENV_FILE"
}

cmd_down() {
    local f name
    if compgen -G "$PIDS/*.pid" >/dev/null; then
        for f in "$PIDS"/*.pid; do
            name="$(basename "$f" .pid)"
            # SIGINT is Postgres's "fast" shutdown; its SIGTERM ("smart") would wait for
            # every client (e.g. a leaked test pool) to disconnect.
            if [[ $name == postgres ]]; then stop_pidfile "$f" INT; else stop_pidfile "$f" TERM; fi
            log "stopped $name"
        done
    fi
    # A Postgres dir we had to put in /tmp is ours to remove; one inside SCRATCH stays
    # for post-mortems until the next `up`.
    if [[ -f $SCRATCH/pg.dir ]]; then
        local pg_dir
        pg_dir="$(cat "$SCRATCH/pg.dir")"
        case "$pg_dir" in
            "$SCRATCH"/*) ;;
            */starshop-pg.*) rm -rf "$pg_dir" ;;
        esac
        rm -f "$SCRATCH/pg.dir"
    fi
    rm -f "$ENV_FILE"
}

cmd_env() {
    [[ -f $ENV_FILE ]] || { log "not up: no $ENV_FILE (run scripts/infra.sh up)"; return 1; }
    cat "$ENV_FILE"
}

cmd_status() {
    local f pid state
    if ! compgen -G "$PIDS/*.pid" >/dev/null; then
        echo "nothing recorded in $PIDS"
    else
        for f in "$PIDS"/*.pid; do
            read -r pid _ <"$f"
            if pid_alive "$pid"; then state=running; else state=gone; fi
            printf '%-18s pid %-8s %s\n' "$(basename "$f" .pid)" "$pid" "$state"
        done
    fi
    if [[ -f $ENV_FILE ]]; then
        echo "--- $ENV_FILE"
        grep '^export' "$ENV_FILE"
        # shellcheck disable=SC1090
        (source "$ENV_FILE"
            if "$(pg_bindir)/pg_isready" -q -d "$DATABASE_URL"; then echo "postgres: accepting connections"; else echo "postgres: NOT answering"; fi
            for p in "$REDIS_MASTER_PORT" "$REDIS_SLAVE1_PORT" "$REDIS_SLAVE2_PORT"; do
                echo "redis :$p $(redis_cli "$p" ping 2>&1 | head -n1)"
            done)
    fi
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    env) cmd_env ;;
    status) cmd_status ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
esac
