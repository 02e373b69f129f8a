/**
 * Which statements slow down when PostgreSQL holds 1,000,000 messages: the scale load against
 * an empty and a seeded database with pg_stat_statements, mean time per statement side by side.
 *   npx tsx bench/pg-statements.ts [stored=1000000] [messages=2000]
 */
import pg from 'pg';
import { PgCluster } from '../test/helpers/postgres.js';
import { createDatabase, deskgateRun } from './postgres.js';
import { seed } from './scale-postgres.js';

const STORED = Number(process.argv[2] ?? 1_000_000);
const N = Number(process.argv[3] ?? 2000);
const cluster = await new PgCluster({ fsync: true, serverOptions: '-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all' }).start();
type Stat = { query: string; calls: number; mean: number; total: number };
async function stats(url: string): Promise<Map<string, Stat>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query(`SELECT query, calls, mean_exec_time AS mean, total_exec_time AS total FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 40`);
    return new Map(r.rows.map((x) => [String(x.query).replace(/\s+/g, ' ').slice(0, 90), { query: x.query, calls: Number(x.calls), mean: Number(x.mean), total: Number(x.total) }]));
  } finally { await c.end(); }
}
async function prepared(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await c.end();
}
try {
  const emptyUrl = await createDatabase(cluster, 'st_empty');
  await prepared(emptyUrl);
  const e = await deskgateRun({ backend: 'postgres', url: emptyUrl, cluster }, N, [20], `st${Date.now()}-e`);
  const se = await stats(emptyUrl);
  const fullUrl = await createDatabase(cluster, 'st_full');
  await seed(fullUrl, STORED);
  await prepared(fullUrl);
  const pgc = new pg.Client({ connectionString: fullUrl }); await pgc.connect(); await pgc.query('SELECT pg_stat_statements_reset()'); await pgc.end();
  const f = await deskgateRun({ backend: 'postgres', url: fullUrl, cluster }, N, [20], `st${Date.now()}-f`);
  const sf = await stats(fullUrl);
  console.log(`end to end: empty ${e.e2e.toFixed(0)} msg/s, stored ${f.e2e.toFixed(0)} msg/s`);
  console.log('mean ms empty -> stored, total ms stored, calls: statement');
  for (const [k, v] of sf) {
    const b = se.get(k);
    console.log(`${(b?.mean ?? NaN).toFixed(3)} -> ${v.mean.toFixed(3)}  total ${v.total.toFixed(0)}  calls ${v.calls}: ${k}`);
  }
} finally {
  cluster.stopSync();
}
