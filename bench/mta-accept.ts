/**
 * Acceptance of a durable MTA against the bare sink (issue 15's reference): the same load
 * (20 sessions, 4 KB new-ticket mail, the client of bench/ingest.ts) into the bare smtp-server
 * sink, into a private Postfix's smtpd (relaying to that sink while it accepts, as deskgate
 * processes while it accepts), and into deskgate serve, in turns.
 *   npx tsx bench/mta-accept.ts [messages=4000] [rounds=2]     (root, Debian's postfix package)
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { smtpLoad, benchMail, startChild, stopChild, benchConfig, fmt, ROOT, type LoadResult } from './lib/load.js';
import { PrivatePostfix } from '../test/helpers/postfix.js';

const TOTAL = Number(process.argv[2] ?? 4000);
const ROUNDS = Number(process.argv[3] ?? 2);
const run = `${Date.now()}`;
let batch = 0;
const messages = () => { const b = ++batch; return (i: number) => benchMail(`${run}-${b}-${i}`, 4096, undefined, `Customer ${i} <c${i}@customer.test>`); };
const line = (r: LoadResult) => `${fmt(r.rate)} msg/s, p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms`;

const sink = await startChild([join(ROOT, 'bench/sink.mjs'), '2627'], /sink listening/);
const pf = await new PrivatePostfix({ relayPort: 2627 }).start();
try {
  for (let round = 1; round <= ROUNDS; round++) {
    const s = await smtpLoad(2627, TOTAL, 20, messages());
    const p = await smtpLoad(pf.port, TOTAL, 20, messages());
    // Postfix's queue drains into the sink before deskgate's turn, so neither shares the CPU with it.
    for (let i = 0; i < 600 && (await pf.queued()) > 0; i++) await new Promise((r) => setTimeout(r, 500));
    const b = benchConfig(2626);
    const dg = await startChild([join(ROOT, 'dist/main.js'), 'serve', '-c', b.config], /serve:ready/);
    const d = await smtpLoad(2626, TOTAL, 20, messages());
    await stopChild(dg.child);
    rmSync(b.dir, { recursive: true, force: true });
    console.log(`round ${round}: ${fmt(TOTAL)} messages, 20 sessions, 4 KB`);
    console.log(`  bare sink       ${line(s)}`);
    console.log(`  Postfix smtpd   ${line(p)}  ${fmt(p.rate / s.rate, 2)} of the sink`);
    console.log(`  deskgate serve  ${line(d)}  ${fmt(d.rate / s.rate, 2)} of the sink, ${fmt(d.rate / p.rate, 2)} of Postfix`);
  }
} finally {
  await pf.stop();
  await stopChild(sink.child);
}
