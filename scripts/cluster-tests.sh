#!/usr/bin/env bash
# Runs the three-node cluster failover tests of every broker (or those named), one broker at a time: each
# test file starts its own cluster through scripts/<broker>-cluster.sh and stops it when it is done.
#
#   bash scripts/cluster-tests.sh [nats] [kafka] [rabbitmq]      (no names: all)
#
# CI runs one broker's per run instead (packages/core/src/testing/cluster.ts: clusterSelection rotates by
# day of year under CI=true); this is the command that runs them all. Needs the broker binaries of
# scripts/<broker>-cluster.sh and the env of the README's test command for anything else they touch.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
brokers=("$@")
[[ ${#brokers[@]} -eq 0 ]] && brokers=(nats kafka rabbitmq)
files=()
for broker in "${brokers[@]}"; do
  file="packages/adapter-$broker/test/cluster.test.ts"
  if [[ -f "$file" ]]; then files+=("$file"); else echo "cluster-tests.sh: no $file yet, $broker skipped" >&2; fi
done
[[ ${#files[@]} -gt 0 ]] || { echo "cluster-tests.sh: no cluster test to run" >&2; exit 1; }
# One cluster at a time on a 2-core machine.
EVENTBUS_CLUSTER=$(IFS=,; echo "${brokers[*]}") CI="${CI:-true}" \
  exec npx -y pnpm@10.34.8 exec vitest run --fileParallelism=false "${files[@]}"
