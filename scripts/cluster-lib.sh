# Shared by scripts/<broker>-cluster.sh (sourced, not run). The contract those scripts follow (the test-side
# handle is packages/core/src/testing/cluster.ts):
#   start | kill <node> | restart <node> | stop, all state under $CLUSTER_DIR; `start` and `restart` print
#   `node <name> <url> <pid>` per node started. Every node runs detached (setsid, output to its log), its PID in
#   $CLUSTER_DIR/<node>.pid. A watchdog stops them all when $CLUSTER_OWNER_PID dies or after
#   $CLUSTER_MAX_SECONDS (default 900), so a crashed test leaves no broker running on a shared machine.

: "${CLUSTER_DIR:?CLUSTER_DIR must name the cluster state folder}"
CLUSTER_MAX_SECONDS="${CLUSTER_MAX_SECONDS:-900}"

cluster_log() { echo "$(basename "$0"): $*" >&2; }

# A live process (a zombie left for init to reap counts as gone).
pid_alive() {
  local pid=$1 state
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo X)
  [[ "$state" != Z && "$state" != X ]]
}

node_pid() { cat "$CLUSTER_DIR/$1.pid" 2>/dev/null || true; }

# SIGKILL a node (no flush: the fault the scenarios need) and wait, bounded, until it is gone.
kill_node() {
  local node=$1 pid i
  pid=$(node_pid "$node")
  [[ -z "$pid" ]] && return 0
  kill -9 "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.1; done
  rm -f "$CLUSTER_DIR/$node.pid"
  pid_alive "$pid" && { cluster_log "node $node (pid $pid) survived SIGKILL"; return 1; }
  return 0
}

# Run a node detached: `run_node <node> <log> <command...>`; records its PID.
run_node() {
  local node=$1 log=$2
  shift 2
  setsid "$@" </dev/null >>"$log" 2>&1 &
  echo $! >"$CLUSTER_DIR/$node.pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port <port> <seconds> [pid]: fails early when the pid died.
wait_port() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    port_open "$1" && return 0
    [[ -n "${3:-}" ]] && ! pid_alive "$3" && { cluster_log "process $3 died before listening on :$1"; return 1; }
    sleep 0.1
  done
  cluster_log "nothing listened on 127.0.0.1:$1 within $2 s"
  return 1
}

# Stop every node whose pid file is in $CLUSTER_DIR (SIGTERM, then SIGKILL after 10 s).
stop_nodes() {
  local file pid i
  for file in "$CLUSTER_DIR"/*.pid; do
    [[ -e "$file" && "$file" != */watchdog.pid ]] || continue
    pid=$(cat "$file"); kill "$pid" 2>/dev/null || true
  done
  for file in "$CLUSTER_DIR"/*.pid; do
    [[ -e "$file" && "$file" != */watchdog.pid ]] || continue
    pid=$(cat "$file")
    for ((i = 0; i < 100; i++)); do pid_alive "$pid" || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$file"
  done
  pid=$(cat "$CLUSTER_DIR/watchdog.pid" 2>/dev/null || true)
  [[ -n "$pid" && "$pid" != "$$" ]] && kill "$pid" 2>/dev/null || true
  rm -f "$CLUSTER_DIR/watchdog.pid"
}

# The watchdog: one sleeping bash per cluster, polling every 2 s.
start_watchdog() {
  local owner="${CLUSTER_OWNER_PID:-}" script
  script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
  CLUSTER_DIR="$CLUSTER_DIR" setsid bash -c '
    end=$((SECONDS + '"$CLUSTER_MAX_SECONDS"'))
    while (( SECONDS < end )); do
      [[ -n "'"$owner"'" ]] && ! kill -0 "'"$owner"'" 2>/dev/null && break
      [[ -d "$CLUSTER_DIR" ]] || exit 0
      sleep 2
    done
    echo "watchdog: stopping the cluster (owner gone or '"$CLUSTER_MAX_SECONDS"' s up)" >&2
    bash "'"$script"'" stop
  ' </dev/null >>"$CLUSTER_DIR/watchdog.log" 2>&1 &
  echo $! >"$CLUSTER_DIR/watchdog.pid"
}
