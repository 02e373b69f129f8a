#!/usr/bin/env bash
# The one test command (npm test): installs what the tests need on a fresh machine, builds,
# and runs the whole suite. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# npm packages: install (or repair) from the lock file when node_modules does not match it.
if ! npm ls --depth=0 >/dev/null 2>&1; then
  npm ci --no-audit --no-fund
fi

# The IMAP tests poll a real Dovecot that they start themselves; install it when missing.
if ! command -v /usr/sbin/dovecot >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
  else
    echo "dovecot-imapd is missing; run as root (or apt-get install dovecot-imapd) for the IMAP tests" >&2
    exit 1
  fi
fi

# The CLI tests run the built dist/ as admins do.
npm run build --silent

mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=2 --test-timeout=300000 "${files[@]}"
