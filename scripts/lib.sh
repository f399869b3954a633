# shellcheck shell=bash
# Helpers shared by infra.sh, up.sh, down.sh and test.sh. Sourced, never run.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

# A TCP port on 127.0.0.1 that was free a moment ago. The kernel picks it (bind to port 0),
# so concurrent runs don't race over a fixed range. Bash fallback: probe random high ports.
free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! port_open 127.0.0.1 "$p"; then echo "$p"; return; fi
    done
    echo "free_port: no free port found" >&2
    return 1
}

# True when something accepts TCP connections on HOST:PORT.
port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# PORT if nothing listens there, otherwise a free one (for the well-known demo ports).
port_or_free() {
    if port_open 127.0.0.1 "$1"; then free_port; else echo "$1"; fi
}

# True while PID runs (a zombie counts as gone: it is dead, just not yet reaped).
pid_alive() {
    local pid=$1 state
    [[ -r /proc/$pid/status ]] || return 1
    state="$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" || return 1
    [[ -n $state && $state != Z ]]
}

# The kernel's start time of PID (clock ticks since boot). Unlike the command name it
# survives exec, and together with the PID it identifies one process for good.
pid_starttime() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    # Field 2 (comm) may hold spaces and parentheses: cut up to its closing ") ".
    stat="${stat##*) }"
    # shellcheck disable=SC2086 # word splitting into fields is the point
    set -- $stat
    echo "${20}"
}

# record_pid DIR NAME PID: remember a process we started, with its start time, so that
# stop_pidfile never signals an unrelated process that later reuses the PID.
record_pid() {
    local dir=$1 name=$2 pid=$3
    mkdir -p "$dir"
    echo "$pid $(pid_starttime "$pid" || true)" >"$dir/$name.pid"
}

# stop_pidfile FILE [SIGNAL]: stop the recorded process (SIGNAL, default TERM; wait up to
# 15 s; then KILL) and remove FILE. Safe to call twice and on stale files.
stop_pidfile() {
    local file=$1 sig=${2:-TERM} pid started now
    [[ -f $file ]] || return 0
    read -r pid started <"$file" || true
    rm -f "$file"
    [[ -n ${pid:-} ]] || return 0
    pid_alive "$pid" || return 0
    now="$(pid_starttime "$pid" || true)"
    if [[ -n ${started:-} && $now != "$started" ]]; then
        echo "stop: $(basename "$file" .pid): pid $pid is another process now; leaving it alone" >&2
        return 0
    fi
    kill "-$sig" "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 150); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    echo "stop: $(basename "$file" .pid) (pid $pid) ignored SIG$sig for 15 s; killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
}

# wait_for DESCRIPTION SECONDS COMMAND...: poll COMMAND every 0.2 s until it succeeds.
wait_for() {
    local what=$1 secs=$2
    shift 2
    local tries=$((secs * 5))
    for _ in $(seq 1 "$tries"); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    echo "timed out after ${secs}s waiting for $what" >&2
    return 1
}

# The cargo target directory (honours CARGO_TARGET_DIR and .cargo/config build.target-dir).
cargo_target_dir() {
    if [[ -n ${CARGO_TARGET_DIR:-} ]]; then
        echo "$CARGO_TARGET_DIR"
        return
    fi
    cargo metadata --format-version 1 --no-deps 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null ||
        echo "$REPO_ROOT/target"
}

# render_nginx_conf OUT: fill nginx/nginx.conf.template from the NGX_* shell variables
# (see the template's header for the list) and write OUT. Fails on a missing value
# rather than writing a config with a literal ${NGX_...} in it.
render_nginx_conf() {
    local out=$1 text name pat
    text="$(<"$REPO_ROOT/nginx/nginx.conf.template")"
    for name in NGX_HTTP_PORT NGX_HTTPS_PORT NGX_GATEWAY NGX_ADMIN NGX_CERT NGX_KEY NGX_PREFIX \
        NGX_LOG_DIR NGX_WEBHOOK_PATH NGX_WORKER_PROCESSES NGX_REAL_IP_FROM \
        NGX_PROXY_READ_TIMEOUT; do
        if [[ -z ${!name+set} ]]; then
            echo "render_nginx_conf: $name is not set" >&2
            return 1
        fi
        pat="\${$name}"
        # Quoted pattern and replacement: literal text, no globbing, no '&' expansion.
        text="${text//"$pat"/"${!name}"}"
    done
    # shellcheck disable=SC2016 # a literal placeholder, not an expansion
    if [[ $text == *'${NGX_'* ]]; then
        echo "render_nginx_conf: unknown placeholder left in the template:" >&2
        # shellcheck disable=SC2016
        grep -o '\${NGX_[A-Z_]*}' <<<"$text" | sort -u >&2
        return 1
    fi
    printf '%s\n' "$text" >"$out"
}

# The nginx binary: $NGINX_BIN, else PATH, else Debian's /usr/sbin/nginx.
nginx_bin() {
    if [[ -n ${NGINX_BIN:-} ]]; then echo "$NGINX_BIN"; return; fi
    command -v nginx 2>/dev/null || echo /usr/sbin/nginx
}
