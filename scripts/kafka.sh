#!/usr/bin/env bash
# Runs a single-node Apache Kafka (KRaft, combined broker + controller) without Docker.
#
#   bash scripts/kafka.sh start|stop|status|restart|reset|fetch   (reset: stop and delete the broker's data)
#
# The broker's jars come from Maven Central through `mvn` (org.apache.kafka:kafka_2.13 and its runtime
# dependencies) and are cached in .cache/kafka/ (git-ignored); later runs reuse them offline.
# Environment:
#   KAFKA_PORT             client port on 127.0.0.1 (default 9092); the controller listens on KAFKA_PORT+1
#   KAFKA_DIR              state folder: config, data, log, pid (default .cache/kafka/broker-$KAFKA_PORT)
#   KAFKA_HEAP             JVM heap options (default "-Xms256m -Xmx512m")
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to answer (default 90)
#   KAFKA_VERSION          kafka_2.13 release (default 3.9.1)
# A second, private broker for fault tests: KAFKA_PORT=19092 KAFKA_DIR=/tmp/x bash scripts/kafka.sh start
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_VERSION="${KAFKA_VERSION:-3.9.1}"
CACHE="$ROOT/.cache/kafka"
LIBS="$CACHE/libs-$KAFKA_VERSION"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="$((PORT + 1))"
DIR="${KAFKA_DIR:-$CACHE/broker-$PORT}"
HEAP="${KAFKA_HEAP:--Xms256m -Xmx512m}"
TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
# Any fixed 16-byte base64url id will do: the storage is local to this folder.
CLUSTER_ID="ZXZlbnRidXMta2Fma2EtMQ"

log() { echo "kafka.sh: $*" >&2; }

fetch() {
  [[ -f "$LIBS/.complete" ]] && return 0
  command -v mvn >/dev/null || { log "mvn not found (apt-get install maven)"; exit 1; }
  command -v java >/dev/null || { log "java not found (Java 17+: apt-get install openjdk-17-jre-headless)"; exit 1; }
  mkdir -p "$CACHE"
  local pom="$CACHE/pom-$KAFKA_VERSION.xml"
  cat >"$pom" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.eventbus</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
  rm -rf "$LIBS.tmp"
  local args=(-q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime "-DoutputDirectory=$LIBS.tmp")
  # Offline first: ~/.m2 usually holds everything already, and then no network is touched.
  if ! mvn -o "${args[@]}" >/dev/null 2>&1; then
    log "fetching org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central"
    rm -rf "$LIBS.tmp"
    mvn "${args[@]}" || { log "mvn failed to fetch the broker"; exit 1; }
  fi
  touch "$LIBS.tmp/.complete"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
}

write_config() {
  mkdir -p "$DIR/data"
  cat >"$DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$DIR/data
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
# Test and development broker: join groups at once instead of waiting for more members.
group.initial.rebalance.delay.ms=0
group.consumer.min.session.timeout.ms=1000
group.min.session.timeout.ms=1000
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=67108864
message.max.bytes=1048588
EOF
  cat >"$DIR/log4j.properties" <<EOF
log4j.rootLogger=WARN, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.Kafka=INFO
EOF
}

java_cmd() {
  # shellcheck disable=SC2086
  java $HEAP -XX:+UseSerialGC -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
    "-Dlog4j.configuration=file:$DIR/log4j.properties" -cp "$LIBS/*" "$@"
}

pid_alive() {
  [[ -f "$DIR/pid" ]] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null
}

answers() {
  # The broker logs this once its listeners accept and metadata is loaded; a port that is open is not enough.
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && grep -q 'Kafka Server started' "$DIR/broker.log" 2>/dev/null
}

start() {
  if pid_alive && answers; then
    log "already running on 127.0.0.1:$PORT (pid $(cat "$DIR/pid"))"
    return 0
  fi
  if pid_alive; then
    wait_until_answers
    return 0
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    # Another checkout's broker (CI runs in a fresh clone on the same machine) is just as good.
    local holder
    holder=$(ss -ltnpH "sport = :$PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
    if [[ -n "$holder" ]] && tr '\0' ' ' <"/proc/$holder/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka'; then
      log "a Kafka broker started elsewhere (pid $holder) already serves 127.0.0.1:$PORT: using it"
      return 0
    fi
    log "port $PORT is taken by another process (not started by this script, state in $DIR)"
    exit 1
  fi
  fetch
  write_config
  if [[ ! -f "$DIR/data/meta.properties" ]]; then
    java_cmd kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$DIR/server.properties" --ignore-formatted \
      >"$DIR/format.log" 2>&1 || { log "storage format failed:"; tail -n 30 "$DIR/format.log" >&2; exit 1; }
  fi
  : >"$DIR/broker.log"
  # setsid: the broker outlives this shell and is not killed with the caller's process group.
  # shellcheck disable=SC2086
  setsid java $HEAP -XX:+UseSerialGC -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
    "-Dlog4j.configuration=file:$DIR/log4j.properties" -cp "$LIBS/*" kafka.Kafka "$DIR/server.properties" \
    >"$DIR/broker.log" 2>&1 </dev/null &
  echo $! >"$DIR/pid"
  wait_until_answers
}

wait_until_answers() {
  local deadline=$((SECONDS + TIMEOUT))
  until answers; do
    if ! pid_alive && [[ -f "$DIR/pid" ]]; then
      log "the broker exited during start-up; last lines of $DIR/broker.log:"
      tail -n 40 "$DIR/broker.log" >&2
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      log "the broker did not answer on 127.0.0.1:$PORT within ${TIMEOUT}s; last lines of $DIR/broker.log:"
      tail -n 40 "$DIR/broker.log" >&2
      exit 1
    fi
    sleep 0.3
  done
  log "running on 127.0.0.1:$PORT (pid $(cat "$DIR/pid"), state in $DIR)"
}

stop() {
  if ! pid_alive; then
    rm -f "$DIR/pid"
    log "not running on 127.0.0.1:$PORT"
    return 0
  fi
  local pid
  pid="$(cat "$DIR/pid")"
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$DIR/pid"
  log "stopped (pid $pid)"
}

status() {
  if pid_alive && answers; then
    echo "running on 127.0.0.1:$PORT (pid $(cat "$DIR/pid"), state in $DIR)"
  elif pid_alive; then
    echo "starting (pid $(cat "$DIR/pid"))"
    return 3
  else
    echo "not running"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) status ;;
  reset) stop; rm -rf "$DIR"; log "deleted $DIR" ;;
  fetch) fetch ;;
  *) echo "usage: $0 start|stop|status|restart|reset|fetch" >&2; exit 2 ;;
esac
