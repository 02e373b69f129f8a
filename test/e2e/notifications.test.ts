import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, BILLING, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, cliJson } from '../helpers/daemon.js';
import { mail, uniqueId, type MailSpec } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import { SmtpSink, type SunkMessage } from '../helpers/sink.js';
import { makeReplyToken } from '../../src/thread/index.js';
import type { Daemon } from '../../src/daemon.js';

/** Default triggers end to end (R51), delivered through a real SMTP sink as the smarthost. */
describe('notifications end to end (R21, R28-R31, R46-R58)', () => {
  let env: TestEnv;
  let d: Daemon & { port: number };
  const sink = new SmtpSink();

  before(async () => {
    await sink.start();
    env = makeEnv((c) => {
      c.outbound = { smtp: { host: '127.0.0.1', port: sink.port, secure: false }, retry_initial: '100ms', retry_max: '400ms', retry_for: '1h' };
    });
    d = await startTestDaemon(env);
  });
  after(async () => {
    await d.stop();
    await sink.stop();
    env.cleanup();
  });
  beforeEach(() => sink.clear());

  async function deliver(spec: MailSpec, from = 'carol@customer.test', rcpt = SUPPORT): Promise<number> {
    const reply = await sendMail(d.port, rcpt, mail(spec), from);
    assert.match(reply, /^250 /);
    const intakeId = Number(/queued as (\d+)/.exec(reply)![1]);
    const row = await waitFor(async () => { const r = (await d.app.intake.get(intakeId)); return r?.status === 'done' ? r : r?.status === 'failed' ? assert.fail(r.error!) : undefined; }, 'processed');
    return row.ticket_id!;
  }
  /** Waits until the outbox is empty of queued/deferred mail, then a moment for stragglers. */
  async function settle(): Promise<SunkMessage[]> {
    await waitFor(async () => (await d.app.outbox.list()).every((r) => r.status !== 'queued' && r.status !== 'deferred'), 'outbox drained');
    return sink.messages;
  }

  it('R51.1/R55-R58: a new ticket sends the receipt to the requester, from the address written to, threaded and marked', async () => {
    const id = uniqueId('new');
    const ticketId = await deliver({ messageId: id, to: BILLING, subject: 'Invoice wrong', cc: 'dan@customer.test' }, 'carol@customer.test', BILLING);
    const msgs = await settle();
    const receipts = msgs.filter((m) => m.mail.subject?.includes('Received'));
    assert.equal(receipts.length, 1);
    const r = receipts[0]!;
    assert.deepEqual(r.rcpt, ['carol@customer.test'], 'R50: Dan was on the original mail, so no copy');
    assert.equal(r.mail.from?.value[0]?.address, BILLING);
    assert.equal(r.mail.from?.value[0]?.name, 'Acme Billing');
    const token = makeReplyToken(ticketId, d.app.ctx.secret);
    assert.equal(r.mail.replyTo?.value[0]?.address, `billing+${token}@acme.test`);
    assert.equal(r.mail.inReplyTo, id);
    assert.equal(r.mail.headers.get('auto-submitted'), 'auto-replied');
    assert.equal(r.mail.headers.get('x-auto-response-suppress'), 'All');
    assert.ok(r.mail.text!.startsWith('##- Please type your reply above this line -##'));
    assert.ok(r.mail.text!.includes(`[DG-${token}]`));
    const row = (await d.app.outbox.list()).find((o) => o.message_id === r.mail.messageId)!;
    assert.equal(row.status, 'sent');
    assert.equal((await d.app.tickets.ticketsForMessageIds([r.mail.messageId!])).get(r.mail.messageId!), ticketId, 'R56: the notification\'s Message-ID is stored on the ticket');
  });

  it('R51.7: a new ticket in a group with no assignee notifies the group\'s agents, each separately', async () => {
    await deliver({ subject: 'Group me' });
    const msgs = (await settle()).filter((m) => m.mail.subject?.includes('New in Support'));
    assert.deepEqual(msgs.map((m) => m.rcpt).sort(), [['alice@acme.test'], ['bob@acme.test']]);
  });

  it('R51.3/R29/R50: an agent\'s public comment goes to requester and CCs in one message (CCs in Cc), not to the author', async () => {
    const first = uniqueId('pub');
    const ticketId = await deliver({ messageId: first, cc: 'dan@customer.test' });
    await settle();
    sink.clear();
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--comment', 'We replaced the toner.', '--author', 'bob@acme.test']);
    const msgs = (await settle()).filter((m) => m.mail.text?.includes('We replaced the toner.'));
    assert.equal(msgs.length, 1);
    assert.deepEqual(msgs[0]!.rcpt.sort(), ['carol@customer.test', 'dan@customer.test']);
    assert.equal(msgs[0]!.mail.to && !Array.isArray(msgs[0]!.mail.to) ? msgs[0]!.mail.to.value[0]!.address : '', 'carol@customer.test');
    assert.equal(msgs[0]!.mail.cc && !Array.isArray(msgs[0]!.mail.cc) ? msgs[0]!.mail.cc.value[0]!.address : '', 'dan@customer.test');
    assert.equal(msgs[0]!.mail.headers.get('auto-submitted'), 'auto-generated');
    assert.ok(!sink.to('bob@acme.test').some((m) => m.mail.text?.includes('We replaced the toner.')), 'R50: not the author');
  });

  it('R21/R31: a private note reaches the assignee and followers only, each alone; never requester or CCs', async () => {
    const first = uniqueId('priv');
    const ticketId = await deliver({ messageId: first, cc: 'dan@customer.test' });
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--assignee', 'bob@acme.test', '--add-follower', 'lea@acme.test', '--add-follower', 'alice@acme.test']);
    await settle();
    sink.clear();
    const secret = 'The customer still owes 500 EUR from last year.';
    await deliver({ inReplyTo: first, from: 'Alice <alice@acme.test>', body: secret }, 'alice@acme.test');
    const msgs = await settle();
    const withNote = msgs.filter((m) => m.raw.includes('owes 500 EUR'));
    assert.deepEqual(withNote.map((m) => m.rcpt).sort(), [['bob@acme.test'], ['lea@acme.test']], 'assignee and the other follower, each alone; not the author');
    for (const m of msgs) {
      for (const endUser of ['carol@customer.test', 'dan@customer.test']) {
        if (m.rcpt.includes(endUser)) assert.ok(!m.raw.includes('owes 500 EUR'), `private note leaked to ${endUser}`);
      }
      const visible = [m.mail.to, m.mail.cc].flatMap((x) => (x && !Array.isArray(x) ? x.value.map((v) => v.address) : []));
      if (visible.some((a) => a === 'carol@customer.test')) assert.ok(!visible.includes('lea@acme.test'), 'R31: followers never in headers of end-user mail');
    }
    assert.ok(!msgs.some((m) => m.rcpt.includes('carol@customer.test')));
  });

  it('R51.10/R51.6: solved notifies the requester; an end-user reply reopens and notifies the assignee', async () => {
    const first = uniqueId('solve');
    const ticketId = await deliver({ messageId: first });
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--assignee', 'bob@acme.test']);
    await settle();
    sink.clear();
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--status', 'solved', '--author', 'bob@acme.test']);
    let msgs = await settle();
    assert.equal(msgs.filter((m) => m.mail.subject?.startsWith(`[Ticket #${ticketId}] Solved`) && m.rcpt.includes('carol@customer.test')).length, 1);
    sink.clear();
    await deliver({ inReplyTo: first, body: 'Not fixed, sorry.' });
    msgs = await settle();
    assert.equal(msgs.filter((m) => m.mail.subject?.includes('Reopened') && m.rcpt.includes('bob@acme.test')).length, 1);
    assert.equal(msgs.filter((m) => m.rcpt.includes('bob@acme.test')).length, 1, 'R51.4 stands aside when reopened');
  });

  it('R28: a CC added by a message gets the earlier public comments in their first notification', async () => {
    const first = uniqueId('hist');
    const ticketId = await deliver({ messageId: first, body: 'First public words.' });
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--comment', 'Internal only thought.', '--private', '--author', 'bob@acme.test']);
    await deliver({ inReplyTo: first, cc: 'erin@customer.test', body: 'Adding Erin.' });
    await settle();
    sink.clear();
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--comment', 'Update for everyone.', '--author', 'bob@acme.test']);
    const toErin = (await settle()).filter((m) => m.rcpt.includes('erin@customer.test'));
    assert.equal(toErin.length, 1);
    assert.ok(toErin[0]!.mail.text!.includes('First public words.'), 'history included');
    assert.ok(!toErin[0]!.raw.includes('Internal only thought.'), 'R21 holds in the history');
    sink.clear();
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--comment', 'Second update.', '--author', 'bob@acme.test']);
    const again = (await settle()).filter((m) => m.rcpt.includes('erin@customer.test'));
    assert.ok(!again[0]!.mail.text!.includes('First public words.'), 'only the first notification carries the history');
  });

  it('R10: a reply to a delivered notification threads back to its ticket', async () => {
    const ticketId = await deliver({ subject: 'Thread me back' });
    const receipt = (await settle()).find((m) => m.mail.subject?.includes('Thread me back') && m.rcpt.includes('carol@customer.test'))!;
    const t2 = await deliver({ subject: 'Re: something else', inReplyTo: receipt.mail.messageId!, body: 'Reply to your mail' });
    assert.equal(t2, ticketId);
  });

  it('R11: a reply that lost its headers threads by the Reply-To token', async () => {
    const ticketId = await deliver({ subject: 'Token me' });
    const receipt = (await settle()).find((m) => m.mail.subject?.includes('Token me'))!;
    const replyTo = receipt.mail.replyTo!.value[0]!.address!;
    const t2 = await deliver({ to: replyTo, subject: 'no headers' }, 'carol@customer.test', replyTo);
    assert.equal(t2, ticketId);
  });
});
