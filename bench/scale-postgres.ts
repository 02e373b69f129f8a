/**
 * Scale on PostgreSQL (issue 14): new-ticket ingest into an empty database vs one seeded with
 * 1,000,000 stored messages, on one throwaway cluster (127.0.0.1, fsync on), the same load as
 * bench/scale.ts (20 sessions, 4 KB, default triggers on).
 *   npx tsx bench/scale-postgres.ts [stored=1000000] [messages=3000]
 * The seed mirrors bench/scale.ts: 200,000 tickets of 5 comments, 50,000 customers, an intake row
 * and a message_ids row per message, written by INSERT … SELECT generate_series (not over SMTP),
 * then ANALYZE (as an admin would after a bulk load) and a CHECKPOINT (so the seed's dirty pages
 * are not written during the measured run).
 */
import pg from 'pg';
import { openStore } from '../src/store/index.js';
import { fmt } from './lib/load.js';
import { startCluster, createDatabase, deskgateRun, cpuLine, serverFacts, type RunResult } from './postgres.js';

const CUSTOMERS = 50_000;
const PER_TICKET = 5;
const CHUNK = 200_000;

/** Message i (0-based) is comment and intake row i + 1 of ticket floor(i / 5) + 1, from customer (ticket % 50,000) + 1. */
export async function seed(url: string, stored: number): Promise<void> {
  const t0 = Date.now();
  await (await openStore({ data_dir: '.', store: { backend: 'postgres', url, pool_size: 2 } })).close(); // schema via the real migrations
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const now = new Date(Date.now() - 86_400_000).toISOString();
    const body = 'The printer on the third floor is on fire again. '.repeat(4);
    const tickets = Math.ceil(stored / PER_TICKET);
    const mid = `'<seed-' || i || '@customer.test>'`;
    const ticket = `(i / ${PER_TICKET} + 1)`;
    await c.query(`INSERT INTO users (id, email, name, created_at) SELECT u, 'seed' || (u - 1) || '@customer.test', 'Seed ' || (u - 1), $1 FROM generate_series(1, ${CUSTOMERS}) u`, [now]);
    for (let start = 1; start <= tickets; start += CHUNK) {
      await c.query(`INSERT INTO tickets (id, subject, status, requester_id, group_name, recipient, via, created_at, updated_at, status_changed_at)
        SELECT t, 'Seed ticket ' || t, 'open', (t % ${CUSTOMERS}) + 1, 'Support', 'support@acme.test', 'smtp', $1, $1, $1 FROM generate_series($2::bigint, $3::bigint) t`, [now, start, Math.min(tickets, start + CHUNK - 1)]);
    }
    for (let start = 0; start < stored; start += CHUNK) {
      const range = [now, start, Math.min(stored, start + CHUNK) - 1];
      await c.query(`INSERT INTO intake (id, dedupe_key, message_id, raw_path, raw_size, raw_sha256, via, envelope_to, status, received_at, processed_at, ticket_id, sender)
        SELECT i + 1, 'mid:' || ${mid}, ${mid}, NULL, 4096, 'x', 'smtp', '["support@acme.test"]', 'done', $1, $1, ${ticket}, 'seed' || (${ticket} % ${CUSTOMERS}) || '@customer.test'
        FROM generate_series($2::bigint, $3::bigint) i`, range);
      await c.query(`INSERT INTO comments (id, ticket_id, author_id, author_role, public, visibility_rule, body, message_id, intake_id, via, created_at)
        SELECT i + 1, ${ticket}, (${ticket} % ${CUSTOMERS}) + 1, 'end_user', 1, 'R16', $4, ${mid}, i + 1, 'smtp', $1
        FROM generate_series($2::bigint, $3::bigint) i`, [...range, body]);
      await c.query(`INSERT INTO message_ids (message_id, ticket_id, direction, created_at) SELECT ${mid}, ${ticket}, 'in', $1 FROM generate_series($2::bigint, $3::bigint) i`, range);
    }
    // The ids were given explicitly: move each identity past them, as copy-store does.
    for (const t of ['users', 'tickets', 'intake', 'comments']) {
      await c.query(`SELECT setval(pg_get_serial_sequence('${t}', 'id'), (SELECT max(id) FROM ${t}))`);
    }
    await c.query('ANALYZE');
    await c.query('CHECKPOINT');
  } finally {
    await c.end();
  }
  console.log(`  seeded ${fmt(stored)} messages in ${fmt((Date.now() - t0) / 1000, 1)} s (then ANALYZE, CHECKPOINT)`);
}

async function main(stored: number, n: number): Promise<void> {
  const cluster = await startCluster();
  try {
    const run = `pgs${Date.now()}`;
    const empty: RunResult = await deskgateRun({ backend: 'postgres', url: await createDatabase(cluster, 'bench_empty'), cluster }, n, [20], `${run}-empty`);
    const fullUrl = await createDatabase(cluster, 'bench_full');
    await seed(fullUrl, stored);
    const full = await deskgateRun({ backend: 'postgres', url: fullUrl, cluster }, n, [20], `${run}-full`);
    const [e, f] = [empty.nodes[0]!.accept, full.nodes[0]!.accept];
    console.log(`scale on PostgreSQL: ${fmt(n)} new-ticket messages, 20 sessions, 4 KB; ${await serverFacts(fullUrl)}`);
    console.log(`  empty database        ${fmt(empty.acceptedRate)} msg/s accepted, ${fmt(empty.e2e)} end to end, p50 ${fmt(e.p50, 1)} ms, p99 ${fmt(e.p99, 1)} ms`);
    console.log(`  ${fmt(stored)} stored   ${fmt(full.acceptedRate)} msg/s accepted, ${fmt(full.e2e)} end to end, p50 ${fmt(f.p50, 1)} ms, p99 ${fmt(f.p99, 1)} ms`);
    console.log(`  ratio                 ${fmt(full.acceptedRate / empty.acceptedRate, 2)} accepted, ${fmt(full.e2e / empty.e2e, 2)} end to end (target >= 0.8)`);
    console.log(`  empty   ${cpuLine(empty)}`);
    console.log(`  stored  ${cpuLine(full)}`);
  } finally {
    cluster.stopSync();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main(Number(process.argv[2] ?? 1_000_000), Number(process.argv[3] ?? 3000));
