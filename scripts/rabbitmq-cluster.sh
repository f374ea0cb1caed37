#!/usr/bin/env bash
# A three-node RabbitMQ cluster on loopback for the failover test and the cluster bench, following the
# contract of scripts/cluster-lib.sh (state under $CLUSTER_DIR, `node <name> <url> <pid>` lines, a
# watchdog bound to $CLUSTER_OWNER_PID). It never touches the machine's shared node (rabbit@<host>,
# 5672/25672, epmd 4369): its nodes are evb-c1..3@localhost with their own ports, data, Erlang cookie
# and epmd, every process recorded by PID and ended by PID.
#
#   CLUSTER_DIR=… scripts/rabbitmq-cluster.sh start          start n1, then n2 and n3 joining it
#   CLUSTER_DIR=… scripts/rabbitmq-cluster.sh kill n2        SIGKILL that node, as a crash would
#   CLUSTER_DIR=… scripts/rabbitmq-cluster.sh restart n2     start it again on its data (it rejoins)
#   CLUSTER_DIR=… scripts/rabbitmq-cluster.sh leader QUEUE   the node (n1..n3) leading a quorum queue
#   CLUSTER_DIR=… scripts/rabbitmq-cluster.sh stop
#
# Ports: AMQP $EVB_RABBIT_CLUSTER_PORT.. (15681-15683), epmd $EVB_RABBIT_CLUSTER_EPMD_PORT (25700),
# distribution epmd port + 1..3 (25701-25703). One such cluster per machine at a time.
set -euo pipefail
# shellcheck source=scripts/cluster-lib.sh
source "$(dirname "$0")/cluster-lib.sh"

NODES=(n1 n2 n3)
SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
CTL=/usr/lib/rabbitmq/bin/rabbitmqctl
BASE_PORT=${EVB_RABBIT_CLUSTER_PORT:-15681}
EPMD_PORT=${EVB_RABBIT_CLUSTER_EPMD_PORT:-25700}

# Clear of the shared node's ports (5672, 25672) and of the management default (15672).
if ((BASE_PORT < 15673 || BASE_PORT + ${#NODES[@]} - 1 > 15700 || EPMD_PORT < 25700)); then
  cluster_log "ports out of range (AMQP 15673-15700, epmd and distribution 25700+)"
  exit 2
fi

index_of() {
  [[ $1 =~ ^n([1-3])$ ]] || {
    cluster_log "no node \"$1\" (nodes: ${NODES[*]})"
    exit 2
  }
  echo "${BASH_REMATCH[1]}"
}
erlang_node() { echo "evb-c$(index_of "$1")@localhost"; }
amqp_port() { echo $((BASE_PORT + $(index_of "$1") - 1)); }
node_url() { echo "amqp://guest:guest@127.0.0.1:$(amqp_port "$1")"; }

# What every rabbitmq process of ours runs with: our cookie (HOME), our epmd, the node's own files.
node_env() {
  local node=$1 d="$CLUSTER_DIR/$1"
  export HOME="$CLUSTER_DIR/home" ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_NODENAME RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT RABBITMQ_DIST_PORT
  RABBITMQ_NODENAME=$(erlang_node "$node")
  RABBITMQ_NODE_PORT=$(amqp_port "$node")
  RABBITMQ_DIST_PORT=$((EPMD_PORT + $(index_of "$node")))
  export RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf"
  export RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
  # A crashing VM (or rabbitmqctl's) writes its dump here, not into the caller's working directory.
  export ERL_CRASH_DUMP="$d/erl_crash.dump"
  # One scheduler each: three nodes share a 2-core machine with other tests.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+S 1:1 +A 8"
  # Exec the VM itself (no wrapper shell), so the recorded PID is the node's and SIGKILL kills it.
  export RUNNING_UNDER_SYSTEMD=1
}

ctl() {
  local node=$1
  shift
  (node_env "$node" && "$CTL" -n "$(erlang_node "$node")" "$@")
}

configure_node() {
  local node=$1 d="$CLUSTER_DIR/$1"
  mkdir -p "$d"
  # n2 and n3 join n1 as they boot (peer discovery) rather than by stop_app/join_cluster/start_app:
  # each rabbitmqctl call costs seconds on a loaded 2-core machine. A restarted node rejoins from its
  # own data and skips discovery.
  {
    echo "listeners.tcp.default = 127.0.0.1:$(amqp_port "$node")"
    echo "loopback_users = none"
    echo "cluster_formation.peer_discovery_backend = classic_config"
    echo "cluster_formation.classic_config.nodes.1 = $(erlang_node n1)"
  } >"$d/rabbitmq.conf"
  echo '[].' >"$d/enabled_plugins"
  : >"$d/rabbitmq-env.conf"
}

launch_node() { (node_env "$1" && run_node "$1" "$CLUSTER_DIR/$1/stdout.log" "$SERVER"); }

# A node listens for AMQP only once it booted (and joined): that port is the readiness check.
await_node() {
  wait_port "$(amqp_port "$1")" 120 "$(node_pid "$1")" || return 1
  echo "node $1 $(node_url "$1") $(node_pid "$1")"
}

cmd_start() {
  mkdir -p "$CLUSTER_DIR/home"
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$CLUSTER_DIR/home/.erlang.cookie"
  chmod 400 "$CLUSTER_DIR/home/.erlang.cookie"
  # Our own epmd, by PID (a node would otherwise start one as an untracked daemon).
  run_node epmd "$CLUSTER_DIR/epmd.log" epmd -port "$EPMD_PORT" -address 127.0.0.1
  start_watchdog
  local node
  for node in "${NODES[@]}"; do configure_node "$node"; done
  # n1 first, so the others find it when they look for a cluster to join; then the two together.
  launch_node n1
  await_node n1 || fail_start
  launch_node n2
  launch_node n3
  await_node n2 || fail_start
  await_node n3 || fail_start
  local running
  running=$(ctl n1 eval 'length(rabbit_nodes:all_running()).' 2>/dev/null || echo 0)
  if [[ $running != "${#NODES[@]}" ]]; then
    cluster_log "$running of ${#NODES[@]} nodes running in the cluster; logs in $CLUSTER_DIR/n*/log"
    fail_start
  fi
}

fail_start() {
  cmd_stop
  exit 1
}

# The leader of a quorum queue, asked of any live node.
cmd_leader() {
  local queue=${1:?queue name} node leader
  for node in "${NODES[@]}"; do
    pid_alive "$(node_pid "$node")" || continue
    leader=$(ctl "$node" list_queues -q --no-table-headers name leader 2>/dev/null | awk -v q="$queue" '$1 == q { print $2 }') || continue
    if [[ $leader =~ ^evb-c([1-3])@ ]]; then
      echo "n${BASH_REMATCH[1]}"
      return
    fi
  done
  cluster_log "no leader found for queue $queue"
  return 1
}

# SIGKILL rather than SIGTERM: the data goes with the folder, and a clean shutdown costs seconds.
cmd_stop() {
  local node
  for node in "${NODES[@]}" epmd; do kill_node "$node" || true; done
  stop_nodes
}

case ${1:-} in
start) cmd_start ;;
kill) kill_node "${2:?node name}" && index_of "$2" >/dev/null ;;
restart)
  if pid_alive "$(node_pid "${2:?node name}")"; then
    echo "node $2 $(node_url "$2") $(node_pid "$2")"
  else
    launch_node "$2"
    await_node "$2"
  fi
  ;;
leader) cmd_leader "${2:-}" ;;
stop) cmd_stop ;;
*)
  sed -n '2,16p' "$0" >&2
  exit 2
  ;;
esac
