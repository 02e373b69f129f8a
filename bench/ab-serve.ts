/**
 * A/B of two builds' SMTP acceptance, in turns (issue 15: "throwaway builds in turns"): each
 * round starts one build's `serve` on a fresh data dir, sends the load (20 sessions, 4 KB new
 * tickets, unique senders), stops it, then the other, alternating which goes first. Prints each
 * run and the ratio of the medians (B over A).
 *   git worktree add /tmp/a <rev> && (cd /tmp/a && ln -s "$PWD/node_modules" . && npm run build)
 *   npx tsx bench/ab-serve.ts /tmp/a/dist/main.js dist/main.js [messages=4000] [rounds=4]
 */
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { smtpLoad, benchMail, startChild, stopChild, benchConfig, fmt } from './lib/load.js';

const [a, b] = [process.argv[2], process.argv[3]].map((p) => resolve(p ?? ''));
if (!process.argv[3]) throw new Error('usage: bench/ab-serve.ts A/dist/main.js B/dist/main.js [messages] [rounds]');
const TOTAL = Number(process.argv[4] ?? 4000);
const ROUNDS = Number(process.argv[5] ?? 4);
const run = `${Date.now()}`;
let batch = 0;
const messages = () => { const n = ++batch; return (i: number) => benchMail(`${run}-${n}-${i}`, 4096, undefined, `Customer ${i} <c${i}@customer.test>`); };
const rates: Record<'A' | 'B', number[]> = { A: [], B: [] };
for (let round = 1; round <= ROUNDS; round++) {
  for (const name of (round % 2 ? ['A', 'B'] : ['B', 'A']) as Array<'A' | 'B'>) {
    const cfg = benchConfig(2626);
    const dg = await startChild([name === 'A' ? a! : b!, 'serve', '-c', cfg.config], /serve:ready/);
    try {
      const r = await smtpLoad(2626, TOTAL, 20, messages());
      rates[name].push(r.rate);
      console.log(`round ${round} ${name}: ${fmt(r.rate)} msg/s, p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms`);
    } finally {
      await stopChild(dg.child);
      rmSync(cfg.dir, { recursive: true, force: true });
    }
  }
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
console.log(`median A ${fmt(median(rates.A))} msg/s, B ${fmt(median(rates.B))} msg/s: B/A ${fmt(median(rates.B) / median(rates.A), 3)}`);
