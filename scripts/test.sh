#!/usr/bin/env bash
# The one test command (npm test): installs what the tests need on a fresh machine, builds,
# and runs the whole suite. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# npm packages: install (or repair) from the lock file when node_modules does not match it.
if ! npm ls --depth=0 >/dev/null 2>&1; then
  npm ci --no-audit --no-fund
fi

# The CLI tests run the built dist/ as admins do.
npm run build --silent

mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=2 --test-timeout=300000 "${files[@]}"
