import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, cliJson } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import { SmtpSink } from '../helpers/sink.js';
import { PrivatePostfix, postfixUnavailable } from '../helpers/postfix.js';
import type { OutboundRow } from '../../src/store/index.js';
import type { Daemon } from '../../src/daemon.js';

/**
 * R67/R68 with the DSNs a real Postfix writes. deskgate sends its notifications through a
 * private Postfix (its smarthost); Postfix relays them to "the outside world", an SMTP server
 * that refuses some recipients at RCPT; Postfix then bounces them to the VERP return path, which
 * it delivers (acme.test is its relay domain) to deskgate by LMTP (R73).
 */
const why = postfixUnavailable();
const skip = why ? `needs a private Postfix: ${why}` : false;
if (why) console.log(`# skipped: bounces written by Postfix: ${why}`);

describe('bounces written by a real Postfix (R67, R68, R73)', { skip }, () => {
  let env: TestEnv;
  let d: Daemon & { port: number };
  let pf: PrivatePostfix;
  let runDir: string;
  const world = new SmtpSink();

  before(async () => {
    await world.start();
    world.refuse.set('gone@customer.test', [550, '5.1.1 <gone@customer.test>: Recipient address rejected: User unknown in virtual mailbox table']);
    world.refuse.set('full@customer.test', [452, '4.2.2 <full@customer.test>: Mailbox full']);
    runDir = mkdtempSync(join(tmpdir(), 'dg-bounce-'));
    chmodSync(runDir, 0o755);
    const socket = join(runDir, 'lmtp.sock');
    // One try: a temporary refusal comes back at once as a failed (4.x.x) report.
    // The agents' mailboxes are at acme.test too: theirs go out to the world, not back to deskgate.
    const agents = ['alice@acme.test', 'bob@acme.test', 'lea@acme.test'].map((a) => `${a}=relay:[127.0.0.1]:${world.port}`).join(', ');
    pf = await new PrivatePostfix({ relayPort: world.port, lmtp: socket, mainCf: ['maximal_queue_lifetime = 0', `transport_maps = inline:{ ${agents} }`] }).start();
    env = makeEnv((c) => {
      c.lmtp = { listen: [{ path: socket, mode: '0600', owner: 'postfix' }] };
      c.outbound = { smtp: { host: '127.0.0.1', port: pf.port, secure: false }, return_path: 'bounces@acme.test', soft_bounce_limit: 1, retry_initial: '100ms', retry_max: '400ms', retry_for: '1h' };
    });
    d = await startTestDaemon(env, { parseWorkers: 1 });
  });
  after(async () => {
    await d?.stop();
    await pf?.stop();
    await world.stop();
    env?.cleanup();
    rmSync(runDir, { recursive: true, force: true });
  });

  const receiptTo = (address: string) => waitFor(async () => (await d.app.outbox.list()).find((r) => r.to.some((p) => p.email === address) && r.trigger.length > 0), `a notification to ${address}`);
  const bounced = (row: OutboundRow) => waitFor(async () => { const r = (await d.app.outbox.byId(row.id))!; return r.status === 'bounced' ? r : undefined; }, `outbox ${row.id} to be bounced by Postfix's report`, 30_000);
  const suppressions = () => cliJson<Array<{ address: string; reason: string; code: string; bounces: number }>>(['suppressions', 'list', '-c', env.configPath, '--json']);
  const newTicket = async (from: string, subject: string) => {
    const reply = await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('pfb'), subject, from }), from);
    assert.match(reply, /^250 /);
  };

  it('R67, R68: a recipient refused with 550 comes back as Postfix\'s report: the row is bounced 5.1.1, the ticket warned, the address suppressed', async () => {
    await newTicket('gone@customer.test', 'Bounced by Postfix');
    const receipt = await receiptTo('gone@customer.test');
    const row = await bounced(receipt);
    assert.match(row.last_error!, /^gone@customer\.test: 5\.1\.1 550 5\.1\.1 <gone@customer\.test>: Recipient address rejected/);
    const t = await cliJson<{ warnings: string[]; comments: unknown[] }>(['tickets', 'show', String(row.ticket_id), '-c', env.configPath, '--json']);
    assert.ok(t.warnings.includes('notification_bounced'));
    assert.equal(t.comments.length, 1, 'R67: the report is no comment');
    const s = (await suppressions()).find((x) => x.address === 'gone@customer.test');
    assert.deepEqual([s?.reason, s?.code], ['hard_bounce', '5.1.1']);
    // The report reached deskgate by LMTP at the signed return path and was done there, not suspended.
    const reports = await d.app.sql.all<{ via: string; status: string; envelope_to: string }>('SELECT via, status, envelope_to FROM intake WHERE envelope_from IS NULL');
    assert.deepEqual(reports.map((r) => [r.via, r.status]), [['lmtp', 'done']], 'one report, by LMTP, done');
    assert.match(reports[0]!.envelope_to, new RegExp(`bounces\\+${receipt.id}-[0-9a-f]{32}@acme\\.test`));
    assert.match(pf.log(), /to=<gone@customer\.test>.*status=bounced/);
    assert.match(pf.log(), /sender non-delivery notification/);
  });

  it('R68: a temporary refusal Postfix gives up on is a soft bounce; at soft_bounce_limit (1 here) it suppresses', async () => {
    await newTicket('full@customer.test', 'Mailbox full at Postfix');
    const row = await bounced(await receiptTo('full@customer.test'));
    assert.match(row.last_error!, /^full@customer\.test: 4\.2\.2 /);
    const s = (await suppressions()).find((x) => x.address === 'full@customer.test');
    assert.deepEqual([s?.reason, s?.code], ['soft_bounce_limit', '4.2.2']);
  });

  it('R67: a recipient Postfix delivers gets no report, and its row stays sent', async () => {
    await newTicket('fine@customer.test', 'Delivered through Postfix');
    const receipt = await receiptTo('fine@customer.test');
    await waitFor(() => world.to('fine@customer.test').length > 0 || undefined, 'the outside world to get it', 30_000);
    assert.match(world.to('fine@customer.test')[0]!.envelopeFrom, new RegExp(`^bounces\\+${receipt.id}-[0-9a-f]{32}@acme\\.test$`), 'R67: Postfix kept deskgate\'s VERP sender');
    assert.equal((await d.app.outbox.byId(receipt.id))!.status, 'sent');
  });

  it('R73: Postfix logged no warning about either conversation', () => {
    const warnings = pf.log().split('\n').filter((l) => /warning:/i.test(l) && /lmtp|smtp|protocol|lost connection|unexpected/i.test(l));
    assert.deepEqual(warnings, []);
  });
});
