/**
 * Pipe intake: `deskgate inject` per message (one process each, as an MTA runs it) against a
 * `cat > /dev/null` pipe and a bare `node -e 0`, run in turns so a busy machine slows all
 * three alike. Each message has its own sender (R43 would suspend the 21st from one sender) and
 * must end as a ticket (status done), so every run is the whole path.
 *   npx tsx bench/pipe.ts [messages=50] [daemon]
 * With `daemon`, a `deskgate serve` runs on the same store: each inject only stores its message
 * (status received) and the daemon makes every ticket, which the bench waits for at the end.
 * Where the time goes: npx tsx bench/pipe-profile.ts
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { benchMail, benchConfig, fmt, ROOT, startChild, stopChild } from './lib/load.js';
import { freePort } from '../test/helpers/net.js';

const N = Number(process.argv[2] ?? 50);
const DAEMON = process.argv[3] === 'daemon';
const b = benchConfig(DAEMON ? await freePort() : 0);
const serve = DAEMON ? await startChild([join(ROOT, 'dist/main.js'), 'serve', '-c', b.config], /serve:ready/) : undefined;
// inject leaves the message to a daemon whose heartbeat is in the store: wait for the first beat.
if (serve) await new Promise((r) => setTimeout(r, 1500));
const run = Date.now();
const mailOf = (kind: string, i: number) => benchMail(`${kind}-${run}-${i}`, 4096, undefined, `Carol ${i} <carol-${run}-${i}@customer.test>`);
const timed = (fn: () => void): number => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const runs: Record<'cat' | 'node' | 'inject' | 'modules', number[]> = { cat: [], node: [], inject: [], modules: [] };
const loadBefore = loadavg()[0]!;
for (let i = 0; i < N; i++) {
  runs.cat.push(timed(() => spawnSync('sh', ['-c', 'cat > /dev/null'], { input: mailOf('cat', i) })));
  runs.node.push(timed(() => spawnSync(process.execPath, ['-e', '0'])));
  // In turns: from the bundle (what an MTA runs) and from the modules as built (DESKGATE_NO_BUNDLE).
  for (const [arm, env] of [['inject', {}], ['modules', { DESKGATE_NO_BUNDLE: '1' }]] as const) {
    let r!: ReturnType<typeof spawnSync>;
    runs[arm].push(timed(() => { r = spawnSync(process.execPath, [join(ROOT, 'dist/main.js'), 'inject', '-c', b.config, '--json'], { input: mailOf(arm, i), env: { ...process.env, ...env } }); }));
    if (r.status !== 0) throw new Error(`inject exited ${r.status}: ${r.stderr}`);
    const out = JSON.parse(String(r.stdout)) as { status: string; ticket_id: number | null };
    if (DAEMON ? out.status === 'failed' : out.status !== 'done' || !out.ticket_id) throw new Error(`inject ${i}: ${r.stdout}`);
  }
}
if (serve) {
  const db = new Database(join(b.dataDir, 'deskgate.sqlite'), { readonly: true });
  const until = Date.now() + 60_000;
  while ((db.prepare(`SELECT count(*) FROM intake WHERE status = 'done'`).pluck().get() as number) < 2 * N && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  const done = db.prepare(`SELECT count(*) FROM intake WHERE status = 'done'`).pluck().get() as number;
  db.close();
  if (done < 2 * N) throw new Error(`the daemon made ${done} of ${2 * N} tickets`);
  await stopChild(serve.child);
}
const stat = (v: number[]) => {
  const s = [...v].sort((x, y) => x - y);
  return { min: s[0]!, median: s[s.length >> 1]!, mean: v.reduce((a, x) => a + x, 0) / v.length };
};
const line = (v: number[]) => {
  const s = stat(v);
  return `min ${fmt(s.min, 1)} ms, median ${fmt(s.median, 1)} ms, mean ${fmt(s.mean, 1)} ms (${fmt(1000 / s.mean, 1)}/s)`;
};
const [cat, node, inject, modules] = [stat(runs.cat), stat(runs.node), stat(runs.inject), stat(runs.modules)];
console.log(`pipe: ${N} messages of 4 KB, one process each; load average ${fmt(loadBefore, 2)} before, ${fmt(loadavg()[0]!, 2)} after`);
console.log(`  cat > /dev/null     ${line(runs.cat)}`);
console.log(`  node -e 0           ${line(runs.node)}  (Node's own start)`);
console.log(`  inject, modules     ${line(runs.modules)}  (DESKGATE_NO_BUNDLE=1: the modules as built)`);
console.log(`  deskgate inject     ${line(runs.inject)}  (${DAEMON ? 'stored; the running daemon made every ticket' : 'stored, parsed, threaded, ticket and notifications queued'})`);
console.log(`  inject minus node start: min ${fmt(inject.min - node.min, 1)} ms, median ${fmt(inject.median - node.median, 1)} ms; ratio of medians to cat ${fmt(cat.median / inject.median, 3)}, to node start ${fmt(node.median / inject.median, 2)}, bundle to modules ${fmt(inject.median / modules.median, 2)}`);
rmSync(b.dir, { recursive: true, force: true });
