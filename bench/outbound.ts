/**
 * Outbound: notifications delivered per second from deskgate's durable queue to a local SMTP
 * sink, against nodemailer sending the same messages straight to the sink (same pool size).
 *   npx tsx bench/outbound.ts [messages=2000]
 */
import nodemailer from 'nodemailer';
import { rmSync } from 'node:fs';
import { SmtpSink } from '../test/helpers/sink.js';
import { composeApp } from '../src/compose.js';
import { loadConfig } from '../src/config/index.js';
import { silentLogger } from '../src/shared/logger.js';
import { benchConfig, fmt } from './lib/load.js';

const N = Number(process.argv[2] ?? 2000);
const sink = await new SmtpSink().start();
const body = 'Your ticket was updated.\n'.repeat(40);

const direct = nodemailer.createTransport({ host: '127.0.0.1', port: sink.port, secure: false, pool: true, maxConnections: 4 });
let t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: N }, (_, i) => direct.sendMail({ from: 'support@acme.test', to: `c${i}@customer.test`, subject: `direct ${i}`, text: body, messageId: `<d${i}@acme.test>` })));
const directS = Number(process.hrtime.bigint() - t0) / 1e9;
direct.close();

const b = benchConfig(0, `outbound: { smtp: { host: 127.0.0.1, port: ${sink.port}, secure: false } }\n`);
const app = await composeApp(loadConfig(b.config), { logger: silentLogger(), parseWorkers: 0 });
const ticketId = (await app.tickets.createTicket({ subject: 'bench', status: 'open', requesterId: (await app.tickets.ensureUser('c@customer.test')), submitterId: null, groupName: null, recipient: 'support@acme.test', via: 'smtp', followUpOf: null, tags: [], now: new Date().toISOString() }));
await app.sql.tx(async () => {
  for (let i = 0; i < N; i++) {
    (await app.outbox.enqueue({ ticketId, trigger: 'bench', status: 'queued', from: { email: 'support@acme.test', name: 'Acme' }, replyTo: null, to: [{ email: `c${i}@customer.test`, name: null }], cc: [],
      subject: `queued ${i}`, body, messageId: `<q${i}.${Date.now()}@acme.test>`, inReplyTo: null, references: [], headers: { 'Auto-Submitted': 'auto-generated' }, now: new Date().toISOString() }));
  }
});
t0 = process.hrtime.bigint();
app.sender.start();
for (;;) {
  if (((await app.outbox.depth()).sent ?? 0) >= N) break;
  await new Promise((r) => setTimeout(r, 20));
}
const queueS = Number(process.hrtime.bigint() - t0) / 1e9;
await app.close();
await sink.stop();
rmSync(b.dir, { recursive: true, force: true });
console.log(`outbound: ${N} notifications to a local SMTP sink, 4 pooled connections`);
console.log(`  nodemailer direct   ${fmt(N / directS)} msg/s`);
console.log(`  deskgate outbox     ${fmt(N / queueS)} msg/s (claimed, sent, marked sent one by one)  ratio ${fmt(directS / queueS, 2)}`);
