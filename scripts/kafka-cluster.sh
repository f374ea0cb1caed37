#!/usr/bin/env bash
# A three-node Apache Kafka cluster (KRaft) on loopback, owned by the test (or person) that starts it.
#
#   CLUSTER_DIR=/tmp/x bash scripts/kafka-cluster.sh start|kill <node>|restart <node>|stop|status
#
# Nodes k1..k3 (node.id 1..3), each a combined broker + controller, all three controller voters.
# Client ports KAFKA_CLUSTER_PORT+0..2 (default 19192..19194), controller ports +3..5 (19195..19197): inside
# the Kafka range 19192-19210, never the shared broker's 9092. Each keeps its log dirs in $CLUSTER_DIR/<node>,
# so `restart` brings a SIGKILLed node back on its data. `start` returns once every node logged "Kafka Server
# started" (a KRaft broker logs it after the controllers unfenced it) and prints `node <name> <url> <pid>`.
# Jars: the ones scripts/kafka.sh fetches into .cache/kafka (fetched here when missing, offline first).
# Memory: -Xmx256m per node (KAFKA_CLUSTER_HEAP), C1 only and serial GC: three JVMs on a 2-core machine.
# See scripts/cluster-lib.sh for the contract and the watchdog (CLUSTER_OWNER_PID, CLUSTER_MAX_SECONDS).
set -euo pipefail
# shellcheck source=cluster-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
LIBS="${KAFKA_LIBS:-$ROOT/.cache/kafka/libs-$KAFKA_VERSION}"
PORT="${KAFKA_CLUSTER_PORT:-19192}"
HEAP="${KAFKA_CLUSTER_HEAP:--Xms96m -Xmx256m}"
START_TIMEOUT="${KAFKA_CLUSTER_START_TIMEOUT:-180}"
NODES=(k1 k2 k3)
# Any fixed 16-byte base64url id: the storage is local to $CLUSTER_DIR.
CLUSTER_ID="ZXZlbnRidXMtY2x1c3Rlcg"

index_of() { local i; for i in "${!NODES[@]}"; do [[ "${NODES[$i]}" == "$1" ]] && { echo "$i"; return 0; }; done; cluster_log "no node $1 (nodes: ${NODES[*]})"; return 1; }
client_port() { echo $((PORT + $1)); }
controller_port() { echo $((PORT + 3 + $1)); }

# shellcheck disable=SC2206
JAVA=(java $HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true
  "-Dlog4j.configuration=file:$CLUSTER_DIR/log4j.properties" -cp "$LIBS/*")

write_config() {
  local i=$1 node=${NODES[$1]} voters="" j
  for j in "${!NODES[@]}"; do voters+="${voters:+,}$((j + 1))@127.0.0.1:$(controller_port "$j")"; done
  mkdir -p "$CLUSTER_DIR/$node"
  cat >"$CLUSTER_DIR/$node.properties" <<CONF
process.roles=broker,controller
node.id=$((i + 1))
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(client_port "$i"),CONTROLLER://127.0.0.1:$(controller_port "$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$(client_port "$i")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$CLUSTER_DIR/$node
# The internal topics live through the loss of one node, as the adapter's topics do (RF 3, min ISR 2).
offsets.topic.replication.factor=3
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
default.replication.factor=3
min.insync.replicas=2
# A dead node is fenced (its partitions get new leaders) after 6 s without a heartbeat, not the default 9 s.
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=6000
group.initial.rebalance.delay.ms=0
group.consumer.min.session.timeout.ms=1000
group.min.session.timeout.ms=1000
auto.create.topics.enable=false
num.network.threads=1
num.io.threads=2
num.replica.fetchers=1
num.recovery.threads.per.data.dir=1
background.threads=2
log.retention.hours=1
log.segment.bytes=16777216
CONF
}

log_starts() { grep -c 'Kafka Server started' "$CLUSTER_DIR/$1.log" 2>/dev/null || true; }

launch_node() {
  local i=$1 node=${NODES[$1]}
  if pid_alive "$(node_pid "$node")"; then cluster_log "$node is already running"; return 1; fi
  if port_open "$(client_port "$i")"; then cluster_log "port $(client_port "$i") is taken (another cluster running?)"; return 1; fi
  if [[ ! -f "$CLUSTER_DIR/$node/meta.properties" ]]; then
    "${JAVA[@]}" kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$CLUSTER_DIR/$node.properties" --ignore-formatted \
      >"$CLUSTER_DIR/$node.format.log" 2>&1 || { cluster_log "$node: storage format failed:"; tail -n 20 "$CLUSTER_DIR/$node.format.log" >&2; return 1; }
  fi
  run_node "$node" "$CLUSTER_DIR/$node.log" "${JAVA[@]}" kafka.Kafka "$CLUSTER_DIR/$node.properties"
}

# Wait until the node logged one more "Kafka Server started" than `before` (restart appends to its log).
wait_started() {
  local i=$1 before=$2 node=${NODES[$1]} k pid
  pid=$(node_pid "$node")
  for ((k = 0; k < START_TIMEOUT * 5; k++)); do
    (($(log_starts "$node") > before)) && port_open "$(client_port "$i")" && return 0
    pid_alive "$pid" || { cluster_log "$node exited during start-up; last lines of $CLUSTER_DIR/$node.log:"; tail -n 30 "$CLUSTER_DIR/$node.log" >&2; return 1; }
    sleep 0.2
  done
  cluster_log "$node did not start within $START_TIMEOUT s; last lines of $CLUSTER_DIR/$node.log:"
  tail -n 30 "$CLUSTER_DIR/$node.log" >&2
  return 1
}

write_log4j() {
  cat >"$CLUSTER_DIR/log4j.properties" <<CONF
log4j.rootLogger=WARN, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.Kafka=INFO
CONF
}

print_node() { echo "node ${NODES[$1]} kafka://127.0.0.1:$(client_port "$1") $(node_pid "${NODES[$1]}")"; }

case "${1:-}" in
  start)
    mkdir -p "$CLUSTER_DIR"
    command -v java >/dev/null || { cluster_log "java not found (Java 17+: apt-get install openjdk-17-jre-headless)"; exit 1; }
    [[ -f "$LIBS/.complete" ]] || bash "$ROOT/scripts/kafka.sh" fetch
    start_watchdog
    write_log4j
    # All three at once: a controller quorum needs two voters up before any broker can register.
    for i in "${!NODES[@]}"; do write_config "$i"; launch_node "$i" || { stop_nodes; exit 1; }; done
    for i in "${!NODES[@]}"; do wait_started "$i" 0 || { stop_nodes; exit 1; }; done
    for i in "${!NODES[@]}"; do print_node "$i"; done
    ;;
  kill) kill_node "${2:?kill needs a node name}" ;;
  restart)
    i=$(index_of "${2:?restart needs a node name}")
    before=$(log_starts "${NODES[$i]}")
    launch_node "$i"
    wait_started "$i" "$before"
    print_node "$i"
    ;;
  stop) stop_nodes ;;
  status) for i in "${!NODES[@]}"; do pid=$(node_pid "${NODES[$i]}"); pid_alive "$pid" && print_node "$i" || echo "${NODES[$i]} down"; done ;;
  *) echo "usage: CLUSTER_DIR=<folder> $0 start|kill <node>|restart <node>|stop|status" >&2; exit 2 ;;
esac
