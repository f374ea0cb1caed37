#!/usr/bin/env bash
# A three-node RabbitMQ cluster on loopback, for failover tests and the cluster bench. It is owned by
# whoever starts it: every process it starts is recorded by PID under its directory and ended by
# `stop` (or by its watchdog after EVB_RABBIT_CLUSTER_TTL seconds), never by name. It never touches
# the machine's shared node (rabbit@<host>, 5672/25672, epmd 4369): its nodes are evb-c1..3@localhost
# on their own ports, data, cookie and epmd.
#
#   scripts/rabbitmq-cluster.sh start            start and join three nodes; prints `url <amqp url>` per node
#   scripts/rabbitmq-cluster.sh stop             stop every node and the epmd we started, delete the data
#   scripts/rabbitmq-cluster.sh kill N           SIGKILL node N (1..3), as a crash would
#   scripts/rabbitmq-cluster.sh restart N        start node N again (it rejoins with its data)
#   scripts/rabbitmq-cluster.sh leader QUEUE     the node number (1..3) leading a quorum queue
#   scripts/rabbitmq-cluster.sh urls | status
#
# Environment: EVB_RABBIT_CLUSTER_DIR (state, default /tmp/eventbus-rabbitmq-cluster-<base port>),
# EVB_RABBIT_CLUSTER_PORT (first AMQP port, default 15681; nodes take 3 in a row),
# EVB_RABBIT_CLUSTER_DIST_PORT (epmd port; nodes' dist ports follow it, default 25700),
# EVB_RABBIT_CLUSTER_TTL (seconds before the watchdog stops everything, default 900).
set -euo pipefail

NODES=3
SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
CTL=/usr/lib/rabbitmq/bin/rabbitmqctl
BASE_PORT=${EVB_RABBIT_CLUSTER_PORT:-15681}
EPMD_PORT=${EVB_RABBIT_CLUSTER_DIST_PORT:-25700}
DIR=${EVB_RABBIT_CLUSTER_DIR:-/tmp/eventbus-rabbitmq-cluster-$BASE_PORT}
TTL=${EVB_RABBIT_CLUSTER_TTL:-900}

# Our ports must stay clear of the shared node's (5672, 25672) and of the management default (15672).
if ((BASE_PORT < 15673 || BASE_PORT + NODES - 1 > 15700 || EPMD_PORT < 25700)); then
  echo "rabbitmq-cluster: ports out of range (AMQP 15673-15700, dist 25700+)" >&2
  exit 2
fi

node_name() { echo "evb-c$1@localhost"; }
amqp_port() { echo $((BASE_PORT + $1 - 1)); }
node_dir() { echo "$DIR/n$1"; }

# What every rabbitmq command of ours runs with: our cookie (HOME), our epmd, our node's files.
node_env() {
  local n=$1 d
  d=$(node_dir "$n")
  export HOME="$DIR/home" ERL_EPMD_PORT=$EPMD_PORT ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_NODENAME RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT RABBITMQ_DIST_PORT
  RABBITMQ_NODENAME=$(node_name "$n")
  RABBITMQ_NODE_PORT=$(amqp_port "$n")
  RABBITMQ_DIST_PORT=$((EPMD_PORT + n))
  export RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf"
  export RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins"
  export RABBITMQ_PID_FILE="$d/pid"
  # One scheduler each: three nodes share a 2-core machine with other tests.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+S 1:1 +A 8"
  # Exec the VM itself, so the PID we record is the node's (SIGKILL then kills the node, not a wrapper).
  export RUNNING_UNDER_SYSTEMD=1
}

ctl() {
  local n=$1
  shift
  (node_env "$n" && "$CTL" -n "$(node_name "$n")" "$@")
}

alive() {
  local pid_file
  pid_file="$(node_dir "$1")/server.pid"
  [[ -f $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

start_node() {
  local n=$1 d
  d=$(node_dir "$n")
  if alive "$n"; then return; fi
  mkdir -p "$d"
  [[ -f $d/rabbitmq.conf ]] || {
    # Nodes 2 and 3 join node 1 as they boot (peer discovery), rather than with stop_app/join_cluster/
    # start_app: each rabbitmqctl call costs seconds on a loaded 2-core machine. A restarted node
    # rejoins from its own data and skips discovery.
    {
      printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\n' "$(amqp_port "$n")"
      printf 'cluster_formation.peer_discovery_backend = classic_config\n'
      printf 'cluster_formation.classic_config.nodes.1 = %s\n' "$(node_name 1)"
    } >"$d/rabbitmq.conf"
    echo '[].' >"$d/enabled_plugins"
    : >"$d/rabbitmq-env.conf"
  }
  (node_env "$n" && exec "$SERVER" </dev/null >>"$d/stdout.log" 2>&1) &
  echo $! >"$d/server.pid"
}

# A node listens for AMQP only once it has booted (and joined): that port is our readiness check.
await_node() {
  local n=$1 deadline=$((SECONDS + 120))
  until (exec 3<>"/dev/tcp/127.0.0.1/$(amqp_port "$n")") 2>/dev/null; do
    if ! alive "$n"; then
      echo "rabbitmq-cluster: node $n exited while starting; see $(node_dir "$n")/log" >&2
      return 1
    fi
    if ((SECONDS > deadline)); then
      echo "rabbitmq-cluster: node $n did not start within 120 s" >&2
      return 1
    fi
    sleep 0.5
  done
}

fail_start() {
  cmd_stop >/dev/null
  exit 1
}

cmd_start() {
  if [[ -f $DIR/cluster ]]; then
    echo "rabbitmq-cluster: already started in $DIR (stop it first)" >&2
    exit 1
  fi
  mkdir -p "$DIR/home"
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/home/.erlang.cookie"
  chmod 400 "$DIR/home/.erlang.cookie"
  # Node 1 first, so the others find it when they look for a cluster to join.
  start_node 1
  await_node 1 || fail_start
  for n in $(seq 2 $NODES); do start_node "$n"; done
  for n in $(seq 2 $NODES); do await_node "$n" || fail_start; done
  local running
  running=$(ctl 1 eval 'length(rabbit_nodes:all_running()).' 2>/dev/null || echo 0)
  if [[ $running != "$NODES" ]]; then
    echo "rabbitmq-cluster: $running of $NODES nodes running in the cluster" >&2
    fail_start
  fi
  touch "$DIR/cluster"
  # The watchdog: a test that dies without calling stop leaves nothing running past the TTL.
  (
    exec </dev/null >/dev/null 2>&1
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    sleep "$TTL" &
    sleeper=$!
    wait "$sleeper"
    rm -f "$DIR/watchdog.pid"
    "$0" stop
  ) &
  echo $! >"$DIR/watchdog.pid"
  cmd_urls
}

cmd_urls() {
  for n in $(seq 1 $NODES); do echo "url amqp://guest:guest@127.0.0.1:$(amqp_port "$n")"; done
}

cmd_kill() {
  local n=${1:?node number}
  alive "$n" && kill -KILL "$(cat "$(node_dir "$n")/server.pid")"
  while alive "$n"; do sleep 0.1; done
  echo "killed $n"
}

cmd_restart() {
  local n=${1:?node number}
  start_node "$n"
  await_node "$n"
  echo "restarted $n"
}

# The leader of a quorum queue, asked of any live node.
cmd_leader() {
  local queue=${1:?queue name} n leader
  for n in $(seq 1 $NODES); do
    alive "$n" || continue
    leader=$(ctl "$n" list_queues -q --no-table-headers name leader 2>/dev/null | awk -v q="$queue" '$1 == q { print $2 }') || continue
    [[ $leader =~ ^evb-c([0-9]+)@ ]] && {
      echo "${BASH_REMATCH[1]}"
      return
    }
  done
  echo "rabbitmq-cluster: no leader found for $queue" >&2
  return 1
}

cmd_status() {
  for n in $(seq 1 $NODES); do
    if alive "$n"; then echo "node $n up (pid $(cat "$(node_dir "$n")/server.pid"), port $(amqp_port "$n"))"; else echo "node $n down"; fi
  done
}

cmd_stop() {
  [[ -d $DIR ]] || return 0
  if [[ -f $DIR/watchdog.pid ]]; then
    local watchdog
    watchdog=$(cat "$DIR/watchdog.pid")
    kill "$watchdog" 2>/dev/null || true
  fi
  for n in $(seq 1 $NODES); do
    alive "$n" && kill -KILL "$(cat "$(node_dir "$n")/server.pid")" 2>/dev/null || true
  done
  for n in $(seq 1 $NODES); do while alive "$n"; do sleep 0.1; done; done
  # The epmd our first node started on our port (nothing else registers there).
  (node_env 1 && epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1) || true
  rm -rf "$DIR"
  echo "stopped"
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
kill) cmd_kill "${2:-}" ;;
restart) cmd_restart "${2:-}" ;;
leader) cmd_leader "${2:-}" ;;
urls) cmd_urls ;;
status) cmd_status ;;
*)
  sed -n '2,19p' "$0" >&2
  exit 2
  ;;
esac
