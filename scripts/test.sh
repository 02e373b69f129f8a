#!/usr/bin/env bash
# The one test command (npm test): installs what the tests need on a fresh machine, builds,
# and runs the whole suite. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# npm packages: install (or repair) from the lock file when node_modules does not match it.
if ! npm ls --depth=0 >/dev/null 2>&1; then
  npm ci --no-audit --no-fund
fi

# The IMAP tests poll a real Dovecot, the PostgreSQL tests a throwaway cluster (initdb in a
# temp dir); they start these themselves. Install what is missing, with one apt-get update.
need_dovecot=0; need_pg=0; need_postfix=0
command -v /usr/sbin/dovecot >/dev/null 2>&1 || need_dovecot=1
# The MTA-in-front tests run a private Postfix instance (test/helpers/postfix.ts).
command -v /usr/sbin/postfix >/dev/null 2>&1 || need_postfix=1
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_pg=1
if [ -n "${DESKGATE_TEST_DATABASE_URL:-}" ]; then need_pg=0; fi
if [ "$need_dovecot$need_pg$need_postfix" != 000 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "dovecot-imapd, postgresql or postfix is missing; run as root (or apt-get install dovecot-imapd postgresql postfix) for the IMAP, PostgreSQL and MTA tests" >&2
    exit 1
  fi
  apt-get update -qq
  first=()
  [ "$need_dovecot" = 1 ] && first+=(dovecot-imapd)
  [ "$need_pg" = 1 ] && first+=(postgresql-common)
  if [ "$need_postfix" = 1 ]; then
    # Only the binaries: "No configuration" leaves no system instance configured or running.
    echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
    first+=(postfix)
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${first[@]}" >/dev/null
  if [ "$need_pg" = 1 ]; then
    # Only the binaries are needed: no package cluster to create, start or keep running.
    sed -ri 's/^#?\s*create_main_cluster\s*=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
fi

# The CLI tests run the built dist/ as admins do.
npm run build --silent

# Pass 1: every test on the embedded default, SQLite.
mapfile -t files < <(find test -name '*.test.ts' | sort)
status=0
node --import tsx --test --test-concurrency=2 --test-timeout=300000 "${files[@]}" || status=$?

# Pass 2: the suites that must behave the same on PostgreSQL (issue 14), on one throwaway
# cluster; each test env gets a database of its own. The list is in scripts/postgres-suites.txt.
mapfile -t pg_files < <(grep -v '^#' scripts/postgres-suites.txt | sed '/^$/d')
node --import tsx scripts/test-postgres.ts "${pg_files[@]}" || status=$?
exit "$status"
