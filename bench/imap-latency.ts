/**
 * IMAP: time from APPEND on a real Dovecot to a stored ticket comment, with IDLE and with
 * polling (idle: false, poll_interval 5s). Run: npx tsx bench/imap-latency.ts [messages=8]
 */
import { makeEnv, waitFor } from '../test/helpers/env.js';
import { startTestDaemon } from '../test/helpers/daemon.js';
import { mail, uniqueId } from '../test/helpers/mail.js';
import { Dovecot, IMAP_USER, IMAP_PASS } from '../test/helpers/dovecot.js';

const N = Number(process.argv[2] ?? 8);
const dovecot = await new Dovecot().start();
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

for (const mode of [{ name: 'IDLE', idle: true, poll_interval: '60s' }, { name: 'polling every 5s', idle: false, poll_interval: '5s' }]) {
  const env = makeEnv((c) => {
    c.imap = [{ host: '127.0.0.1', port: dovecot.port, secure: false, user: IMAP_USER, pass: IMAP_PASS, mailbox: 'INBOX', processed_mailbox: 'Processed', idle: mode.idle, poll_interval: mode.poll_interval }];
  });
  const d = await startTestDaemon(env, { parseWorkers: 1 });
  await new Promise((r) => setTimeout(r, 1000));
  const times: number[] = [];
  for (let i = 0; i < N; i++) {
    const id = uniqueId('lat');
    const t0 = Date.now();
    await dovecot.append('INBOX', mail({ messageId: id }));
    await waitFor(async () => (await d.app.sql.get('SELECT 1 FROM comments WHERE message_id = ?', [id])), 'ticket', 30_000, 5);
    times.push(Date.now() - t0);
    await new Promise((r) => setTimeout(r, 300 + Math.random() * 1500)); // arrivals not in step with the poll timer
  }
  console.log(`imap-latency ${mode.name}: n=${N} p50=${pct(times, 0.5)} ms p90=${pct(times, 0.9)} ms max=${Math.max(...times)} ms`);
  await d.stop();
  env.cleanup();
}
await dovecot.destroy();
