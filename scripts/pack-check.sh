#!/usr/bin/env bash
# Release check: every package as a user gets it. Builds, packs each package (`pnpm pack`, which applies
# publishConfig), lints the tarballs (publint --strict; are-the-types-wrong's strict profile: node10, node16
# and bundler resolution), installs them into a scratch npm project outside the workspace, and there runs
# the README quick start in ESM and CommonJS on memory://, the common-mistake errors, every adapter through
# createTransport (found by its package.json "eventbus" field, its built ESM entry loaded), the testing entry
# (CommonJS, the child consumer, the memory conformance suite under vitest), a typecheck without skipLibCheck,
# each bin's --help and the adapters' commands through `eventbus <name> <command>`. Exits 1 if anything
# failed; prints one line per check.
#   bash scripts/pack-check.sh [--no-build]     (--no-build: dist/ is already built from this tree)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PNPM="npx -y pnpm@10.34.8"
PUBLINT="npx -y publint@0.3.25"
ATTW="npx -y @arethetypeswrong/cli@0.18.5"
node --version | grep -qE '^v(2[2-9]|[3-9][0-9])\.' || { echo "pack-check: needs Node 22 or later (got $(node --version))" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/eventbus-pack-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
failed=()
passed=0

# check <name> <command…>: runs it, prints "ok"/"FAIL" and, on failure, the tail of its output.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    echo "ok    $name"
    passed=$((passed + 1))
  else
    echo "FAIL  $name"
    printf '%s\n' "$out" | tail -n 40 | sed 's/^/      /'
    failed+=("$name")
  fi
}

# expect_usage_error <name> <command…>: a user mistake must exit 2 with exactly one line on stderr.
expect_usage_error() {
  local name=$1 err status
  shift
  err=$("$@" 2>&1 >/dev/null)
  status=$?
  if [ "$status" -eq 2 ] && [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ]; then
    echo "ok    $name"
    passed=$((passed + 1))
  else
    echo "FAIL  $name (exit $status, stderr:)"
    printf '%s\n' "$err" | head -n 10 | sed 's/^/      /'
    failed+=("$name")
  fi
}

# The README block after the marker <!-- pack-check: <kind> … -->, without its fences.
readme_block() {
  awk -v kind="$2" '
    index($0, "<!-- pack-check: " kind) == 1 { armed = 1; next }
    armed && /^```/ { if (inside) exit; inside = 1; next }
    inside { print }
  ' "$1"
}

if [ "${1:-}" != "--no-build" ]; then
  check "build" $PNPM build
fi

mkdir -p "$work/tarballs" "$work/app"
for dir in packages/*/; do
  check "pack $(basename "$dir")" bash -c "cd '$dir' && $PNPM pack --pack-destination '$work/tarballs'"
done

for tgz in "$work"/tarballs/*.tgz; do
  name=$(basename "$tgz" .tgz)
  check "publint $name" $PUBLINT run "$tgz" --strict
  check "attw $name (node10, node16, bundler)" $ATTW "$tgz" --no-emoji --no-color --format table-flipped
  check "tarball $name: README.md, LICENSE, repository, no @org/source condition" bash -c "
    list=\$(tar -tzf '$tgz')
    grep -qx package/README.md <<<\"\$list\" && grep -qx package/LICENSE <<<\"\$list\" &&
    tar -xzOf '$tgz' package/package.json | node -e '
      const m = JSON.parse(require(\"fs\").readFileSync(0, \"utf8\"));
      const bad = [!m.repository && \"no repository\", !m.homepage && \"no homepage\", !(m.keywords || []).length && \"no keywords\",
        JSON.stringify(m.exports).includes(\"@org/source\") && \"exports keep @org/source\"].filter(Boolean);
      if (bad.length) { console.error(bad.join(\", \")); process.exit(1); }'"
done

# A user's project: only the tarballs, zod (which the quick start imports) and @types/node for tsc.
cd "$work/app"
echo '{ "name": "pack-check-app", "private": true, "version": "0.0.0" }' >package.json
check "npm install the tarballs" npm install --no-audit --no-fund --loglevel=error "$work"/tarballs/*.tgz zod @types/node@22
cp "$root"/scripts/pack-check/* .
readme_block "$root/packages/core/README.md" esm >quickstart.mjs
readme_block "$root/packages/core/README.md" cjs >quickstart.cjs
check "README quick start (ESM, memory://)" bash -c 'EVENTBUS_URL=memory:// node quickstart.mjs | grep -q "billing: order o-1"'
check "README quick start (CommonJS, memory://)" bash -c 'EVENTBUS_URL=memory:// node quickstart.cjs | grep -q "billing: order o-1"'
check "errors, adapters, /testing (ESM)" node errors.mjs
check "errors, adapters, /testing without vitest (CommonJS)" node errors.cjs
check "spawnChildConsumer from the build (ESM)" node child.mjs
check "spawnChildConsumer from the build (CommonJS)" node child.cjs

tsc="$root/node_modules/typescript/bin/tsc"
for resolution in node16 bundler; do
  module=$([ "$resolution" = node16 ] && echo node16 || echo esnext)
  check "tsc without skipLibCheck ($resolution resolution)" node "$tsc" --noEmit --strict --skipLibCheck false \
    --module "$module" --moduleResolution "$resolution" --target es2022 --types node types.ts
done

for bin in eventbus eventbus-ec2 eventbus-ec2-demo; do
  check "$bin --help" "./node_modules/.bin/$bin" --help
done
# Adapter commands come from the installed packages' package.json "eventbus" field, found from the cwd.
check "eventbus help lists the installed adapters' commands (sqs redrive)" bash -c './node_modules/.bin/eventbus help | grep -q "eventbus sqs redrive"'
expect_usage_error "eventbus frobnicate: one line, exit 2" ./node_modules/.bin/eventbus frobnicate
expect_usage_error "eventbus-ec2 --bogus: one line, exit 2" ./node_modules/.bin/eventbus-ec2 --bogus
expect_usage_error "eventbus-ec2-demo --count abc: one line, exit 2" ./node_modules/.bin/eventbus-ec2-demo --count abc
expect_usage_error "eventbus sqs redrive without a URL: one line, exit 2" env -u EVENTBUS_URL ./node_modules/.bin/eventbus sqs redrive --group g

# The memory conformance suite from the published build, under the workspace's vitest (linked in: an
# optional peer the user installs; the suite loads it on first use).
ln -s "$(readlink -f "$root/packages/core/node_modules/vitest")" node_modules/vitest
cp "$root/packages/core/test/memory-conformance.test.ts" .
check "conformance suite (memory) from the build under vitest" node node_modules/vitest/vitest.mjs run --root . memory-conformance.test.ts

echo
if [ "${#failed[@]}" -gt 0 ]; then
  echo "pack-check: ${#failed[@]} failed, $passed passed: ${failed[*]}"
  exit 1
fi
echo "pack-check: all $passed checks passed"
