/**
 * deskgate behind a real Postfix, as a company's MX relays to it (issue 15): N messages sent to
 * one private Postfix instance (test/helpers/postfix.ts), which relays them to deskgate or to a
 * bare smtp-server sink; the same Postfix, in alternating rounds. The figure is the relay rate:
 * N over the time from the first message sent to Postfix's queue being empty again (every
 * message accepted by the next hop). Needs root and Debian's postfix package.
 *   npx tsx bench/postfix-relay.ts [messages=500] [rounds=3]
 */
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { smtpLoad, benchMail, startChild, stopChild, benchConfig, fmt, ROOT } from './lib/load.js';
import { PrivatePostfix, postfixUnavailable } from '../test/helpers/postfix.js';
import { freePort } from '../test/helpers/net.js';

const N = Number(process.argv[2] ?? 500);
const ROUNDS = Number(process.argv[3] ?? 3);
const SESSIONS = 20;
const why = postfixUnavailable();
if (why) {
  console.log(`postfix-relay: skipped: ${why}`);
  process.exit(0);
}

const run = `${Date.now()}`;
const sinkPort = await freePort();
const sink = await startChild([join(ROOT, 'bench/sink.mjs'), String(sinkPort)], /sink listening/);
const dgPort = await freePort();
const b = benchConfig(dgPort);
const dg = await startChild([join(ROOT, 'dist/main.js'), 'serve', '-c', b.config], /serve:ready/);
const pf = await new PrivatePostfix({ relayPort: sinkPort }).start();
const db = new Database(join(b.dataDir, 'deskgate.sqlite'), { readonly: true });

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 300_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** One round to one next hop: the relay rate, and for deskgate the end-to-end rate. */
async function round(target: 'sink' | 'deskgate', r: number): Promise<{ relay: number; e2e?: number }> {
  await pf.relayTo(target === 'sink' ? sinkPort : dgPort);
  const tag = `${run}-${r}-${target}`;
  const t0 = Date.now();
  await smtpLoad(pf.port, N, SESSIONS, (i) => benchMail(`${tag}-${i}`, 4096, undefined, `Customer ${i} <c${r}-${i}@customer.test>`));
  await until('Postfix to relay every message', async () => (await pf.queued()) === 0);
  const relay = N / ((Date.now() - t0) / 1000);
  if (target === 'sink') return { relay };
  const count = (status: string) => db.prepare(`SELECT count(*) FROM intake WHERE message_id LIKE ? AND status ${status}`).pluck().get(`<${tag}-%`) as number;
  if (count("IS NOT NULL") !== N) throw new Error(`deskgate has ${count('IS NOT NULL')} of ${N} relayed messages`);
  await until('deskgate to process them', () => count("= 'done'") === N);
  return { relay, e2e: N / ((Date.now() - t0) / 1000) };
}

const results: Record<'sink' | 'deskgate', Array<{ relay: number; e2e?: number }>> = { sink: [], deskgate: [] };
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const target of r % 2 === 0 ? (['sink', 'deskgate'] as const) : (['deskgate', 'sink'] as const)) results[target].push(await round(target, r));
  }
} finally {
  db.close();
  await pf.stop();
  await stopChild(dg.child);
  await stopChild(sink.child);
  rmSync(b.dir, { recursive: true, force: true });
}
const median = (v: number[]) => [...v].sort((x, y) => x - y)[v.length >> 1]!;
const sinkMedian = median(results.sink.map((x) => x.relay));
const dgMedian = median(results.deskgate.map((x) => x.relay));
const e2eMedian = median(results.deskgate.map((x) => x.e2e!));
console.log(`postfix relay: ${N} messages of 4 KB per round, ${SESSIONS} sessions into one private Postfix, ${ROUNDS} rounds per next hop`);
console.log(`  to the sink     ${results.sink.map((x) => fmt(x.relay)).join(', ')} msg/s (median ${fmt(sinkMedian)})`);
console.log(`  to deskgate     ${results.deskgate.map((x) => fmt(x.relay)).join(', ')} msg/s relayed (median ${fmt(dgMedian)}); end to end ${results.deskgate.map((x) => fmt(x.e2e!)).join(', ')} (median ${fmt(e2eMedian)})`);
console.log(`  ratio of medians: relayed ${fmt(dgMedian / sinkMedian, 2)}, end to end ${fmt(e2eMedian / sinkMedian, 2)} (target relayed >= 0.6)`);
