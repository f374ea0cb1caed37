#!/usr/bin/env bash
# A three-node NATS JetStream cluster on loopback, owned by the test (or person) that starts it.
#
#   CLUSTER_DIR=/tmp/x bash scripts/nats-cluster.sh start|kill <node>|restart <node>|stop|status
#
# Nodes n1..n3: client ports NATS_CLUSTER_PORT+0..2 (default 14222..14224), monitoring +3..5 (14225..14227),
# routes NATS_CLUSTER_ROUTE_PORT+0..2 (default 16222..16224). Each keeps its JetStream store in $CLUSTER_DIR/<node>,
# so `restart` brings a SIGKILLed node back on its data. `start` returns once the JetStream meta group has a
# leader (the cluster can create replicated streams) and prints `node <name> <url> <pid>` per node.
# Memory: 64 MB JetStream memory store per node; file store capped at 1 GB. See scripts/cluster-lib.sh for the
# contract and the watchdog (CLUSTER_OWNER_PID, CLUSTER_MAX_SECONDS).
set -euo pipefail
# shellcheck source=cluster-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-lib.sh"

BIN="${EVENTBUS_NATS_SERVER_BIN:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
PORT="${NATS_CLUSTER_PORT:-14222}"
ROUTE_PORT="${NATS_CLUSTER_ROUTE_PORT:-16222}"
NODES=(n1 n2 n3)
START_TIMEOUT="${NATS_CLUSTER_START_TIMEOUT:-30}"

index_of() { local i; for i in "${!NODES[@]}"; do [[ "${NODES[$i]}" == "$1" ]] && { echo "$i"; return 0; }; done; cluster_log "no node $1 (nodes: ${NODES[*]})"; return 1; }
client_port() { echo $((PORT + $1)); }
monitor_port() { echo $((PORT + 3 + $1)); }

write_config() {
  local i=$1 node=${NODES[$1]} routes="" j
  for j in "${!NODES[@]}"; do [[ $j == "$i" ]] || routes+="${routes:+, }nats-route://127.0.0.1:$((ROUTE_PORT + j))"; done
  mkdir -p "$CLUSTER_DIR/$node"
  cat >"$CLUSTER_DIR/$node.conf" <<CONF
server_name: $node
listen: 127.0.0.1:$(client_port "$i")
http: 127.0.0.1:$(monitor_port "$i")
jetstream {
  store_dir: "$CLUSTER_DIR/$node"
  max_memory_store: 64MB
  max_file_store: 1GB
}
cluster {
  name: eventbus-test
  listen: 127.0.0.1:$((ROUTE_PORT + i))
  routes: [ $routes ]
}
CONF
}

start_node() {
  local i=$1 node=${NODES[$1]}
  if pid_alive "$(node_pid "$node")"; then cluster_log "$node is already running"; return 1; fi
  if port_open "$(client_port "$i")"; then cluster_log "port $(client_port "$i") is taken (another cluster running?)"; return 1; fi
  run_node "$node" "$CLUSTER_DIR/$node.log" "$BIN" -c "$CLUSTER_DIR/$node.conf"
  wait_port "$(client_port "$i")" "$START_TIMEOUT" "$(node_pid "$node")"
}

# JetStream is usable once the meta group elected a leader that this node knows.
wait_meta_leader() {
  local i=$1 k
  for ((k = 0; k < START_TIMEOUT * 10; k++)); do
    curl -fsS "http://127.0.0.1:$(monitor_port "$i")/jsz" 2>/dev/null | grep -q '"leader": *"n' && return 0
    sleep 0.1
  done
  cluster_log "${NODES[$i]}: no JetStream meta leader within $START_TIMEOUT s (see $CLUSTER_DIR/${NODES[$i]}.log)"
  return 1
}

print_node() { echo "node ${NODES[$1]} nats://127.0.0.1:$(client_port "$1") $(node_pid "${NODES[$1]}")"; }

case "${1:-}" in
  start)
    mkdir -p "$CLUSTER_DIR"
    [[ -x "$BIN" ]] || { cluster_log "nats-server not found (apt-get install nats-server, or set EVENTBUS_NATS_SERVER_BIN)"; exit 1; }
    start_watchdog
    for i in "${!NODES[@]}"; do write_config "$i"; start_node "$i" || { stop_nodes; exit 1; }; done
    for i in "${!NODES[@]}"; do wait_meta_leader "$i" || { stop_nodes; exit 1; }; done
    for i in "${!NODES[@]}"; do print_node "$i"; done
    ;;
  kill) kill_node "${2:?kill needs a node name}" ;;
  restart)
    i=$(index_of "${2:?restart needs a node name}")
    start_node "$i"
    wait_meta_leader "$i"
    print_node "$i"
    ;;
  stop) stop_nodes ;;
  status) for i in "${!NODES[@]}"; do pid=$(node_pid "${NODES[$i]}"); pid_alive "$pid" && print_node "$i" || echo "${NODES[$i]} down"; done ;;
  *) echo "usage: CLUSTER_DIR=<folder> $0 start|kill <node>|restart <node>|stop|status" >&2; exit 2 ;;
esac
