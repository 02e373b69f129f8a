/**
 * Ingest throughput and latency over 20 concurrent SMTP sessions (reused connections), 4 KB
 * mail, against a bare smtp-server sink measured in the same run with the same client.
 *   npx tsx bench/ingest.ts [messages=4000] [replyShare=0]   (replyShare 0.8: 80% replies)
 * deskgate end to end = durable + parsed + threaded + rules + triggers + outbox rows.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { smtpLoad, benchMail, startChild, stopChild, benchConfig, fmt, ROOT, type LoadResult } from './lib/load.js';

const TOTAL = Number(process.argv[2] ?? 4000);
const REPLIES = Number(process.argv[3] ?? 0);
const SESSIONS = 20;
const SIZE = 4096;
const run = `${Date.now()}`;

/** Message i: a new ticket, or (share REPLIES) a reply to one of the first new tickets. */
const messages = (total: number, replyShare: number) => (i: number): string => {
  // Many customers, as real traffic has; the default R43 limits apply. A reply comes from the
  // customer who opened the ticket.
  const seeds = Math.max(20, Math.round(total * (1 - replyShare)));
  if (i < seeds || replyShare === 0) return benchMail(`${run}-${i}`, SIZE, undefined, `Customer ${i} <c${i}@customer.test>`);
  const seed = i % seeds;
  return benchMail(`${run}-${i}`, SIZE, `${run}-${seed}`, `Customer ${seed} <c${seed}@customer.test>`);
};

export async function ingestBench(total: number, replyShare: number, extraConfig = '', seedDb?: (dataDir: string) => void): Promise<{ sink: LoadResult; accept: LoadResult; e2e: number }> {
  const sinkProc = await startChild([join(ROOT, 'bench/sink.mjs'), '2627'], /sink listening/);
  const message = messages(total, replyShare);
  const sink = await smtpLoad(2627, total, SESSIONS, message);
  await stopChild(sinkProc.child);

  const b = benchConfig(2626, extraConfig);
  if (seedDb) seedDb(b.dataDir);
  const dg = await startChild([join(ROOT, 'dist/main.js'), 'serve', '-c', b.config], /serve:ready/);
  try {
    const accept = await smtpLoad(2626, total, SESSIONS, message);
    const db = new Database(join(b.dataDir, 'deskgate.sqlite'), { readonly: true });
    const until = Date.now() + 300_000;
    let row: { n: number; a: string; c: string };
    for (;;) {
      row = db.prepare(`SELECT count(*) n, min(received_at) a, max(processed_at) c FROM intake WHERE status = 'done' AND message_id LIKE ?`).get(`<${run}-%`) as typeof row;
      if (row.n >= total || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    db.close();
    const e2e = row.n / ((Date.parse(row.c) - Date.parse(row.a)) / 1000);
    return { sink, accept, e2e };
  } finally {
    await stopChild(dg.child);
    rmSync(b.dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await ingestBench(TOTAL, REPLIES);
  const label = REPLIES > 0 ? `${Math.round(REPLIES * 100)}% replies` : 'new tickets';
  console.log(`ingest (${label}): ${TOTAL} msgs, ${SESSIONS} sessions, ${SIZE} B`);
  console.log(`  sink      ${fmt(r.sink.rate)} msg/s  p50 ${fmt(r.sink.p50, 2)} ms  p99 ${fmt(r.sink.p99, 2)} ms`);
  console.log(`  deskgate  ${fmt(r.accept.rate)} msg/s accepted (ratio ${fmt(r.accept.rate / r.sink.rate, 2)})  p50 ${fmt(r.accept.p50, 2)} ms  p99 ${fmt(r.accept.p99, 2)} ms`);
  console.log(`  deskgate  ${fmt(r.e2e)} msg/s end to end (ratio ${fmt(r.e2e / r.sink.rate, 2)})`);
}
