#!/usr/bin/env bash
# npm run bench: every benchmark, each printing its figures and ratios to its same-run baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
npx tsx bench/ingest.ts 4000 0
npx tsx bench/ingest.ts 4000 0.8
bash bench/smtp-ingest.sh 4000 20 4096
npx tsx bench/scale.ts "${DESKGATE_BENCH_STORED:-1000000}" 3000
npx tsx bench/postgres.ts ingest 3000
npx tsx bench/postgres.ts nodes 3000
npx tsx bench/scale-postgres.ts "${DESKGATE_BENCH_STORED:-1000000}" 3000
npx tsx bench/large-mail.ts 25
npx tsx bench/large-mail.ts 25 cold
npx tsx bench/large-mail.ts 25 postgres
npx tsx bench/outbound.ts 2000
npx tsx bench/pipe.ts 50
npx tsx bench/pipe.ts 30 daemon
npx tsx bench/burst.ts 20000
npx tsx bench/postfix-relay.ts 500 5
npx tsx bench/mta-accept.ts 4000 3
npx tsx bench/imap-latency.ts 8
npx tsx bench/hostile.ts 30
