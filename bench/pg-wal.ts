/**
 * Where the WAL goes: the scale load against an empty and a seeded PostgreSQL database, then
 * pg_waldump over each run's WAL, bytes and full-page images per relation (the scale miss of
 * issue 14 is commit WAL, not statement time: bench/pg-statements.ts).
 *   npx tsx bench/pg-wal.ts [stored=1000000] [messages=2000]
 * Server settings as bench/scale-postgres.ts (DESKGATE_BENCH_PG_OPTIONS); WAL is kept for the dump.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { PgCluster, postgresBinDir } from '../test/helpers/postgres.js';
import { createDatabase, deskgateRun } from './postgres.js';
import { seed } from './scale-postgres.js';
import { fmt } from './lib/load.js';

const STORED = Number(process.argv[2] ?? 1_000_000);
const N = Number(process.argv[3] ?? 2000);
const cluster = await new PgCluster({ fsync: true, serverOptions: `-c wal_keep_size=8GB ${process.env.DESKGATE_BENCH_PG_OPTIONS ?? ''}` }).start();
process.once('exit', () => cluster.stopSync());

async function query<T>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try { return (await c.query(sql)).rows as T[]; } finally { await c.end(); }
}
const lsn = async (url: string): Promise<string> => (await query<{ l: string }>(url, 'SELECT pg_current_wal_insert_lsn() AS l'))[0]!.l;

type Use = { bytes: number; fpi: number; fpiBytes: number; records: number };
/** pg_waldump's records between two LSNs, summed per relfilenode (and per resource manager when a record names none). */
function walByRelation(from: string, to: string): Map<string, Use> {
  const bin = join(postgresBinDir(), 'pg_waldump');
  const args = ['-p', join(cluster.dir, 'data', 'pg_wal'), '-s', from, '-e', to];
  const cmd: [string, string[]] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  const out = execFileSync(cmd[0], cmd[1], { maxBuffer: 1 << 30 }).toString();
  const use = new Map<string, Use>();
  for (const line of out.split('\n')) {
    const m = /rmgr: (\S+)\s+len \(rec\/tot\):\s+(\d+)\/\s*(\d+)/.exec(line);
    if (!m) continue;
    const rels = [...line.matchAll(/blkref #\d+: rel \d+\/\d+\/(\d+)(?: fork \w+)? blk \d+( FPW)?/g)];
    const kind = /desc: (\S+)/.exec(line)?.[1] ?? '';
    const key = `${rels[0] ? rels[0][1]! : `(${m[1]})`} ${m[1]}/${kind}`;
    const u = use.get(key) ?? { bytes: 0, fpi: 0, fpiBytes: 0, records: 0 };
    const tot = Number(m[3]), rec = Number(m[2]);
    u.bytes += tot;
    u.records += 1;
    const fpis = rels.filter((r) => r[2]).length;
    u.fpi += fpis;
    if (fpis) u.fpiBytes += tot - rec;
    use.set(key, u);
  }
  return use;
}

async function names(url: string): Promise<Map<string, string>> {
  const rows = await query<{ f: string; n: string }>(url, `SELECT pg_relation_filenode(c.oid)::text AS f, c.relname AS n FROM pg_class c WHERE pg_relation_filenode(c.oid) IS NOT NULL`);
  return new Map(rows.map((r) => [r.f, r.n]));
}

async function measured(name: string, stored: number): Promise<void> {
  const url = await createDatabase(cluster, name);
  if (stored) await seed(url, stored);
  if (process.env.WAL_VACUUM) await query(url, 'VACUUM (ANALYZE)');
  else await query(url, 'CHECKPOINT');
  const from = await lsn(url);
  const r = await deskgateRun({ backend: 'postgres', url, cluster }, N, [20], `wal${Date.now()}-${name}`);
  const to = await lsn(url);
  const use = walByRelation(from, to);
  const rel = await names(url);
  const rows = [...use.entries()].map(([k, u]) => { const [f, kind] = k.split(' '); return { name: `${rel.get(f!) ?? f} ${kind}`, ...u }; }).sort((a, b) => b.bytes - a.bytes);
  const total = rows.reduce((s, x) => s + x.bytes, 0);
  console.log(`\n${fmt(stored)} stored: ${fmt(r.e2e)} msg/s end to end; WAL ${fmt(total / N / 1024, 1)} KB per message (${fmt(total / 1048576, 1)} MB)`);
  console.log('  KB/msg   FPI/msg  FPI KB/msg  records/msg  relation');
  for (const x of rows.slice(0, 30)) {
    console.log(`  ${(x.bytes / N / 1024).toFixed(2).padStart(6)}  ${(x.fpi / N).toFixed(2).padStart(8)}  ${(x.fpiBytes / N / 1024).toFixed(2).padStart(10)}  ${(x.records / N).toFixed(2).padStart(11)}  ${x.name}`);
  }
}

try {
  await measured('wal_empty', 0);
  await measured('wal_full', STORED);
} finally {
  cluster.stopSync();
}
