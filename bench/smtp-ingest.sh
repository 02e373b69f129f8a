#!/usr/bin/env bash
# New-ticket SMTP ingest: N sessions (reused connections) of L-byte mail, deskgate end to end
# (durable + parsed + threaded + stored) against a bare smtp-server sink in the same run.
# Load from Postfix's smtp-source (taken from the Debian package without installing Postfix).
# Usage: bench/smtp-ingest.sh [messages=4000] [sessions=20] [length=4096]
set -euo pipefail
cd "$(dirname "$0")/.."
MSGS=${1:-4000}; SESS=${2:-20}; LEN=${3:-4096}
TOOLS=bench/.tools
if [ ! -x "$TOOLS/usr/sbin/smtp-source" ]; then
  mkdir -p "$TOOLS"
  (cd "$TOOLS" && apt-get download postfix >/dev/null && dpkg -x postfix_*.deb . && rm -f postfix_*.deb)
fi
src() { LD_LIBRARY_PATH="$TOOLS/usr/lib/postfix" "$TOOLS/usr/sbin/smtp-source" -s "$SESS" -m "$MSGS" -l "$LEN" -d \
  -f carol@customer.test -t support@acme.test "127.0.0.1:$1"; }
now() { date +%s.%N; }
[ -f dist/main.js ] || npm run build --silent
WORK=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Baseline: smtp-server that reads each message and answers 250.
node bench/sink.mjs 2627 & SINK=$!
sleep 1
t0=$(now); src 2627; t1=$(now)
kill $SINK
sink_rate=$(echo "$MSGS/($t1-$t0)" | bc)

cat > "$WORK/c.yaml" <<YAML
data_dir: ./data
secret: bench
smtp: { listen: [{ host: 127.0.0.1, port: 2626 }], reverse_lookup: false, max_clients: 200 }
support_addresses: [{ address: support@acme.test }]
log: { level: warn }
limits: { per_sender_per_hour: 1000000 }
trust: { verify: false }
YAML
node dist/main.js serve -c "$WORK/c.yaml" 2>"$WORK/serve.log" & DG=$!
sleep 1.5
t0=$(now); src 2626; t1=$(now)
accept_rate=$(echo "$MSGS/($t1-$t0)" | bc)
# End to end: until every message is a stored comment.
e2e=$(node -e '
const D = require("better-sqlite3"); const db = new D(process.argv[1], { readonly: true });
const until = Date.now() + 120000;
(function poll() {
  const r = db.prepare("SELECT count(*) n, min(received_at) a, max(processed_at) c FROM intake WHERE status = ?").get("done");
  if (r.n >= Number(process.argv[2]) || Date.now() > until) { console.log(Math.round(r.n / ((Date.parse(r.c) - Date.parse(r.a)) / 1000))); return; }
  setTimeout(poll, 100);
})();' "$WORK/data/deskgate.sqlite" "$MSGS")
kill -TERM $DG; wait $DG || true

echo "smtp-ingest: ${MSGS} msgs, ${SESS} sessions, ${LEN} B, $(nproc) cores, node $(node -v)"
echo "  bare smtp-server sink      ${sink_rate} msg/s"
echo "  deskgate accepted (250)    ${accept_rate} msg/s   ratio $(echo "scale=2; $accept_rate/$sink_rate" | bc)"
echo "  deskgate end to end        ${e2e} msg/s   ratio $(echo "scale=2; $e2e/$sink_rate" | bc)"
