/**
 * Burst (issue 15): N new-ticket messages (4 KB, one customer each, default triggers) as fast as
 * 20 sessions on reused connections send them; per second, how many were accepted (250) and how
 * many processed (intake done: ticket, comment, notifications in the outbox), and the backlog.
 * Acceptance should hold its rate while the backlog grows, and processing drain it after.
 *   npx tsx bench/burst.ts [messages=20000] [sessions=20] [extra config line]
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { smtpLoad, benchMail, startChild, stopChild, benchConfig, fmt, ROOT } from './lib/load.js';
import { freePort } from '../test/helpers/net.js';

const TOTAL = Number(process.argv[2] ?? 20_000);
const SESSIONS = Number(process.argv[3] ?? 20);
const EXTRA = process.argv[4] ?? '';
const run = `burst${Date.now()}`;

const port = await freePort();
const b = benchConfig(port, EXTRA);
const dg = await startChild([join(ROOT, 'dist/main.js'), 'serve', '-c', b.config], /serve:ready/);
const samples: Array<{ t: number; acked: number; done: number }> = [];
try {
  const db = new Database(join(b.dataDir, 'deskgate.sqlite'), { readonly: true });
  const doneCount = db.prepare(`SELECT count(*) FROM intake WHERE status = 'done'`).pluck();
  let acked = 0;
  const t0 = Date.now();
  let sending = true;
  const load = smtpLoad(port, TOTAL, SESSIONS, (i) => benchMail(`${run}-${i}`, 4096, undefined, `Customer ${i} <c${i}@customer.test>`), () => { acked++; })
    .finally(() => { sending = false; });
  for (let k = 1; ; k++) {
    await new Promise((r) => setTimeout(r, t0 + k * 1000 - Date.now()));
    const done = doneCount.get() as number;
    samples.push({ t: k, acked, done });
    if (!sending && done >= TOTAL) break;
    if (k > 900) { console.log('  WARNING: not drained after 900 s'); break; }
  }
  const accept = await load;
  db.close();
  const sendEnd = samples.find((s) => s.acked >= TOTAL)!.t;
  console.log(`burst: ${fmt(TOTAL)} new-ticket messages, ${SESSIONS} sessions, 4 KB; ${EXTRA || 'default config'}`);
  console.log(`  accepted in ${fmt(accept.seconds, 1)} s: ${fmt(accept.rate)} msg/s, p50 ${fmt(accept.p50, 1)} ms, p99 ${fmt(accept.p99, 1)} ms`);
  console.log(`  processed all in ${samples[samples.length - 1]!.t} s (${fmt(TOTAL / samples[samples.length - 1]!.t)} msg/s), backlog at its peak ${fmt(Math.max(...samples.map((s) => s.acked - s.done)))}`);
  const half = Math.max(1, Math.floor(sendEnd / 2));
  const rate = (a: number, z: number) => (samples[z - 1]!.acked - (a > 0 ? samples[a - 1]!.acked : 0)) / (z - a);
  if (sendEnd >= 2) console.log(`  acceptance: first half ${fmt(rate(0, half))} msg/s, second half ${fmt(rate(half, sendEnd))} msg/s (backlog growing)`);
  console.log('\n| second | accepted msg/s | processed msg/s | backlog |\n| --- | --- | --- | --- |');
  const step = Math.max(1, Math.ceil(samples.length / 40));
  for (let i = step - 1; i < samples.length; i += step) {
    const s = samples[i]!;
    const p = i >= step ? samples[i - step]! : { acked: 0, done: 0 };
    console.log(`| ${s.t} | ${fmt((s.acked - p.acked) / step)} | ${fmt((s.done - p.done) / step)} | ${fmt(s.acked - s.done)} |`);
  }
} finally {
  await stopChild(dg.child);
  rmSync(b.dir, { recursive: true, force: true });
}
