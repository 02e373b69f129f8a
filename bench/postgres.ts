/**
 * PostgreSQL benchmarks (issue 14), each printing ratios to a baseline measured in the same run.
 *   npx tsx bench/postgres.ts ingest [messages=3000]  bare sink, deskgate on SQLite, then on PostgreSQL
 *   npx tsx bench/postgres.ts nodes [messages=3000]   one serve (20 sessions) vs two on one database (10 + 10)
 * The load is bench/ingest.ts's: new-ticket mail of 4 KB, one customer each, default triggers on.
 * PostgreSQL is a throwaway cluster on 127.0.0.1 started here with fsync on (a durable server).
 * End to end = intake rows done (parsed, threaded, rules, triggers, outbox rows), timed from the
 * first received_at to the last processed_at, as in bench/ingest.ts.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PgCluster } from '../test/helpers/postgres.js';
import { openStore } from '../src/store/index.js';
import { freePort } from '../test/helpers/net.js';
import { smtpLoad, benchMail, startChild, stopChild, benchConfig, fmt, ROOT, type LoadResult } from './lib/load.js';

const SIZE = 4096;
const TICK_MS = 1000 / Number((() => { try { return execFileSync('getconf', ['CLK_TCK']).toString().trim(); } catch { return '100'; } })());

/** /proc/<pid>/stat: [utime+stime, cutime+cstime, ppid] in ms; undefined once the process is gone. */
function procStat(pid: number): { own: number; reaped: number; ppid: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return { own: (Number(f[11]) + Number(f[12])) * TICK_MS, reaped: (Number(f[13]) + Number(f[14])) * TICK_MS, ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}

/** CPU ms of a process and of its children it has reaped (deskgate's parser threads are in its own). */
export function processCpuMs(pid: number): number {
  const s = procStat(pid);
  return s ? s.own + s.reaped : 0;
}

/**
 * CPU ms of one cluster: its postmaster, the backends alive now, and (in the postmaster's reaped
 * time) the backends that ended. Other clusters on the machine (others' tests) are not counted.
 */
export function clusterCpuMs(cluster: PgCluster): number {
  const postmaster = Number(readFileSync(join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  let total = processCpuMs(postmaster);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s && s.ppid === postmaster) total += s.own;
  }
  return total;
}

export async function startCluster(): Promise<PgCluster> {
  // DESKGATE_BENCH_PG_OPTIONS: server settings to try (e.g. "-c wal_compression=lz4"), printed with the results.
  const c = await new PgCluster({ fsync: true, serverOptions: process.env.DESKGATE_BENCH_PG_OPTIONS ?? '' }).start();
  process.once('exit', () => c.stopSync());
  return c;
}

/** A new database on the cluster; returns its URL. */
export async function createDatabase(cluster: PgCluster, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: cluster.adminUrl });
  await admin.connect();
  try { await admin.query(`CREATE DATABASE ${name}`); } finally { await admin.end(); }
  const u = new URL(cluster.adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function serverFacts(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const show = async (k: string) => (await c.query(`SHOW ${k}`)).rows[0][k] as string;
    return `PostgreSQL ${await show('server_version')}, fsync ${await show('fsync')}, synchronous_commit ${await show('synchronous_commit')}, shared_buffers ${await show('shared_buffers')}`;
  } finally { await c.end(); }
}

export type StoreChoice = { backend: 'sqlite' } | { backend: 'postgres'; url: string; cluster: PgCluster };

export interface RunResult {
  /** One per node: its SMTP load and its CPU ms. */
  nodes: Array<{ accept: LoadResult; cpuMs: number }>;
  /** All nodes together: messages / wall time of the whole SMTP load. */
  acceptedRate: number;
  e2e: number;
  done: number;
  /** CPU ms over the run (load start to the last message done): PostgreSQL's cluster (undefined on SQLite) and this load client. */
  postgresCpuMs?: number;
  clientCpuMs: number;
  wallMs: number;
}

const storeYaml = (s: StoreChoice): string => (s.backend === 'postgres' ? `store: { backend: postgres, url: "${s.url}" }\n` : '');

/**
 * `sessions[k]` SMTP sessions to node k (each its own `deskgate serve` on the same store), the
 * `total` messages split between nodes in proportion; waits until every message is done.
 */
export async function deskgateRun(store: StoreChoice, total: number, sessions: number[], runId: string): Promise<RunResult> {
  const configs = await Promise.all(sessions.map(async () => benchConfig(await freePort(), storeYaml(store))));
  const nodes: Array<Awaited<ReturnType<typeof startChild>>> = [];
  try {
    for (const b of configs) nodes.push(await startChild([join(ROOT, 'dist/main.js'), 'serve', '-c', b.config], /serve:ready/));
    const storeConfig = store.backend === 'postgres' ? { backend: 'postgres' as const, url: store.url, pool_size: 2 } : { backend: 'sqlite' as const, pool_size: 2 };
    const reader = await openStore({ data_dir: configs[0]!.dataDir, store: storeConfig }, { readOnly: true });
    try {
      // Only rows above the seeded ones are read: a scan of 1,000,000 seeded rows per poll would be the bench's own load.
      const before = Number(await reader.sql.value('SELECT coalesce(max(id), 0) FROM intake'));
      const sessionsTotal = sessions.reduce((a, b) => a + b, 0);
      const shares = sessions.map((n) => Math.round((total * n) / sessionsTotal));
      shares[shares.length - 1] = total - shares.slice(0, -1).reduce((a, b) => a + b, 0);
      const cpu0 = { nodes: nodes.map((n) => processCpuMs(n.child.pid!)), pg: store.backend === 'postgres' ? clusterCpuMs(store.cluster) : 0, client: process.cpuUsage() };
      const t0 = Date.now();
      const offsets = shares.map((_, k) => shares.slice(0, k).reduce((a, b) => a + b, 0));
      const loads = await Promise.all(configs.map((b, k) => smtpLoad(portOf(b.config), shares[k]!, sessions[k]!,
        (i) => { const j = offsets[k]! + i; return benchMail(`${runId}-${j}`, SIZE, undefined, `Customer ${j} <c${j}@customer.test>`); })));
      const acceptedRate = total / ((Date.now() - t0) / 1000);
      const until = Date.now() + 300_000;
      let done = 0;
      while (Date.now() < until) {
        done = Number(await reader.sql.value(`SELECT count(*) FROM intake WHERE id > ? AND status = 'done'`, [before]));
        if (done >= total) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const wallMs = Date.now() - t0;
      const cpuNodes = nodes.map((n, k) => processCpuMs(n.child.pid!) - cpu0.nodes[k]!);
      const postgresCpuMs = store.backend === 'postgres' ? clusterCpuMs(store.cluster) - cpu0.pg : undefined;
      const c = process.cpuUsage(cpu0.client);
      const row = (await reader.sql.get<{ a: string; c: string }>(`SELECT min(received_at) AS a, max(processed_at) AS c FROM intake WHERE id > ? AND status = 'done'`, [before]))!;
      const e2e = done / ((Date.parse(row.c) - Date.parse(row.a)) / 1000);
      if (done < total) console.log(`  WARNING: only ${done} of ${total} messages done after 300 s`);
      return { nodes: loads.map((accept, k) => ({ accept, cpuMs: cpuNodes[k]! })), acceptedRate, e2e, done, ...(postgresCpuMs !== undefined ? { postgresCpuMs } : {}), clientCpuMs: (c.user + c.system) / 1000, wallMs };
    } finally {
      await reader.close();
    }
  } finally {
    for (const n of nodes) await stopChild(n.child);
    for (const b of configs) rmSync(b.dir, { recursive: true, force: true });
  }
}

function portOf(configPath: string): number {
  return Number(/port: (\d+)/.exec(readFileSync(configPath, 'utf8'))![1]);
}

export async function sinkRun(total: number, sessions: number, runId: string): Promise<LoadResult> {
  const port = await freePort();
  const sink = await startChild([join(ROOT, 'bench/sink.mjs'), String(port)], /sink listening/);
  try {
    return await smtpLoad(port, total, sessions, (i) => benchMail(`${runId}-${i}`, SIZE, undefined, `Customer ${i} <c${i}@customer.test>`));
  } finally {
    await stopChild(sink.child);
  }
}

/** Share (0..1) of all the machine's core time the run's processes used. */
export function busyShare(r: RunResult): number {
  const all = r.nodes.reduce((a, n) => a + n.cpuMs, 0) + (r.postgresCpuMs ?? 0) + r.clientCpuMs;
  return all / (r.wallMs * cpus().length);
}

/** CPU per message (ms) of each process of a run, and how busy the machine's cores were. */
export function cpuLine(r: RunResult): string {
  const per = (ms: number) => fmt(ms / r.done, 2);
  const nodeParts = r.nodes.map((n, k) => `node${r.nodes.length > 1 ? ` ${String.fromCharCode(65 + k)}` : ''} ${per(n.cpuMs)}`);
  const all = r.nodes.reduce((a, n) => a + n.cpuMs, 0) + (r.postgresCpuMs ?? 0) + r.clientCpuMs;
  const parts = [...nodeParts, ...(r.postgresCpuMs !== undefined ? [`postgres ${per(r.postgresCpuMs)}`] : []), `load client ${per(r.clientCpuMs)}`, `total ${per(all)}`];
  return `CPU ms/msg: ${parts.join(', ')}; ${fmt((100 * all) / (r.wallMs * cpus().length))} % of ${cpus().length} cores busy`;
}

const line = (label: string, r: RunResult): string => {
  const a = r.nodes[0]!.accept;
  return `  ${label.padEnd(20)} ${fmt(r.acceptedRate)} msg/s accepted  p50 ${fmt(a.p50, 2)} ms  p99 ${fmt(a.p99, 2)} ms  ${fmt(r.e2e)} msg/s end to end`;
};

async function ingestMode(total: number): Promise<void> {
  const run = `pgb${Date.now()}`;
  const cluster = await startCluster();
  try {
    const url = await createDatabase(cluster, 'bench_ingest');
    const sink = await sinkRun(total, 20, `${run}-sink`);
    const sqlite = await deskgateRun({ backend: 'sqlite' }, total, [20], `${run}-sqlite`);
    const postgres = await deskgateRun({ backend: 'postgres', url, cluster }, total, [20], `${run}-pg`);
    console.log(`postgres ingest: ${fmt(total)} new-ticket msgs, 20 sessions, ${SIZE} B; ${await serverFacts(url)}`);
    console.log(`  ${'sink'.padEnd(20)} ${fmt(sink.rate)} msg/s  p50 ${fmt(sink.p50, 2)} ms  p99 ${fmt(sink.p99, 2)} ms`);
    console.log(line('deskgate SQLite', sqlite) + ` (sink ratio ${fmt(sqlite.acceptedRate / sink.rate, 2)} / ${fmt(sqlite.e2e / sink.rate, 2)})`);
    console.log(line('deskgate PostgreSQL', postgres) + ` (sink ratio ${fmt(postgres.acceptedRate / sink.rate, 2)} / ${fmt(postgres.e2e / sink.rate, 2)})`);
    const [s, p] = [sqlite.nodes[0]!.accept, postgres.nodes[0]!.accept];
    console.log(`  ratio PostgreSQL/SQLite: accepted ${fmt(postgres.acceptedRate / sqlite.acceptedRate, 2)}, end to end ${fmt(postgres.e2e / sqlite.e2e, 2)}, p50 ${fmt(p.p50 / s.p50, 2)}×, p99 ${fmt(p.p99 / s.p99, 2)}×`);
    console.log(`  SQLite      ${cpuLine(sqlite)}`);
    console.log(`  PostgreSQL  ${cpuLine(postgres)}`);
  } finally {
    cluster.stopSync();
  }
}

async function nodesMode(total: number): Promise<void> {
  const run = `pgn${Date.now()}`;
  const cluster = await startCluster();
  try {
    const one = await deskgateRun({ backend: 'postgres', url: await createDatabase(cluster, 'bench_one'), cluster }, total, [20], `${run}-one`);
    const two = await deskgateRun({ backend: 'postgres', url: await createDatabase(cluster, 'bench_two'), cluster }, total, [10, 10], `${run}-two`);
    console.log(`postgres nodes: ${fmt(total)} new-ticket msgs, 4 KB, 20 sessions in all; ${await serverFacts(cluster.adminUrl)}`);
    console.log(line('one node (20)', one));
    console.log(`  ${'two nodes (10 + 10)'.padEnd(20)} ${fmt(two.acceptedRate)} msg/s accepted  ${two.nodes.map((n, k) => `node ${String.fromCharCode(65 + k)} p50 ${fmt(n.accept.p50, 2)} ms p99 ${fmt(n.accept.p99, 2)} ms`).join(', ')}  ${fmt(two.e2e)} msg/s end to end`);
    console.log(`  ratio two/one: end to end ${fmt(two.e2e / one.e2e, 2)}, accepted ${fmt(two.acceptedRate / one.acceptedRate, 2)}`);
    console.log(`  cores: ${cpus().length}, nothing pinned: the load client, each node and PostgreSQL share all of them`);
    console.log(`  one node   ${cpuLine(one)}`);
    console.log(`  two nodes  ${cpuLine(two)}`);
    const busy = busyShare(two);
    console.log(busy >= 0.85
      ? `  limit: CPU. Two nodes kept ${fmt(100 * busy)} % of the ${cpus().length} cores busy; a second node on the same machine adds processes, not cores (on separate machines each node would have its own)`
      : `  limit: not CPU alone (${fmt(100 * busy)} % of the ${cpus().length} cores busy with two nodes): the rest of the time the processes wait (commit fsyncs, row locks, SMTP round trips)`);
  } finally {
    cluster.stopSync();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const mode = process.argv[2];
  const total = Number(process.argv[3] ?? 3000);
  if (mode === 'ingest') await ingestMode(total);
  else if (mode === 'nodes') await nodesMode(total);
  else { console.error('usage: npx tsx bench/postgres.ts ingest|nodes [messages=3000]'); process.exitCode = 64; }
}
