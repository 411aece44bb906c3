# Sourced by the scripts that start backend servers through scripts/services.

# Stops the servers whose pid files are in $1, waits until each has exited
# (a server still writing its last log lines into $1 would make removing
# it fail), then removes $1.
stop_services() {
    local dir=$1 pid
    for pid in $(cat "$dir"/*.pid 2>/dev/null); do
        kill "$pid" 2>/dev/null || continue
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    done
    rm -rf "$dir"
}
