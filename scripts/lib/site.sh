# Sourced by the scripts that run a site of docs/deployment.md in front of
# local Concord nodes (scripts/check-nginx, scripts/check-nginx-cluster),
# from the repository's root. They call `stop_started` and `stop_nginx`
# when they exit.

# The text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in
# docs/deployment.md, without its code fences; fails when there is none.
doc_block() {
    local text
    text=$(awk -v begin="<!-- $1:begin -->" -v end="<!-- $1:end -->" '
        index($0, begin) { inside = 1; next }
        index($0, end) { inside = 0 }
        inside' docs/deployment.md | sed '/^ *```/d')
    if [ -z "$text" ]; then
        echo "docs/deployment.md has no '$1' block" >&2
        return 1
    fi
    printf '%s\n' "$text"
}

# A free TCP port on loopback.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Prints the path of the server's binary: $CONCORD_BIN when set (a build
# made already), else the one it builds.
concord_binary() {
    if [ -n "${CONCORD_BIN:-}" ]; then
        echo "$CONCORD_BIN"
        return
    fi
    cargo build --locked -q --bin concord
    echo "${CARGO_TARGET_DIR:-target}/debug/concord"
}

# Processes started by `start_concord`.
started=()

# Runs COMMAND... (a `concord serve`, perhaps behind `env`) with its output
# in LOG, and waits until it listens: then `listening` holds its address.
# Fails, showing the output, when it exits or does not listen within 60 s.
start_concord() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    local pid=$!
    started+=("$pid")
    for _ in $(seq 600); do
        listening=$(sed -n 's|^concord listening on http://\([0-9.:]*\).*|\1|p' "$log")
        [ -n "$listening" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "concord did not start; its output:" >&2
    cat "$log" >&2
    return 1
}

# Stops what `start_concord` started and waits for it to end.
stop_started() {
    local pid
    for pid in "${started[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${started[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    started=()
}

# Runs nginx with its files in DIR, serving the site in SITE_FILE. Its
# access log (DIR/access.log) names the upstream that served each request.
start_nginx() {
    local dir=$1 site=$2
    cat >"$dir/nginx.conf" <<CONF
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log;
events {}
http {
    log_format upstream '\$request_method \$request_uri \$status \$upstream_addr';
    access_log $dir/access.log upstream;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    include $site;
}
CONF
    nginx -p "$dir" -c "$dir/nginx.conf"
}

# Stops the nginx that `start_nginx` started in DIR, if it runs.
stop_nginx() {
    local pid
    pid=$(cat "$1/nginx.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
}
