import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, cliJson, runCli } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import { SmtpSink } from '../helpers/sink.js';
import { deliveryReport } from '../helpers/dsn.js';
import { verpAddress } from '../../src/shared/verp.js';
import type { OutboundRow } from '../../src/store/index.js';
import type { Daemon } from '../../src/daemon.js';

const RETURN_PATH = 'bounces@acme.test';

/** R67/R68 end to end: notifications through a real SMTP sink, bounces back over SMTP to deskgate. */
describe('bounces and suppression (R67, R68, R5)', () => {
  let env: TestEnv;
  let d: Daemon & { port: number };
  const sink = new SmtpSink();

  before(async () => {
    await sink.start();
    env = makeEnv((c) => {
      c.outbound = { smtp: { host: '127.0.0.1', port: sink.port, secure: false }, return_path: RETURN_PATH, soft_bounce_limit: 2, retry_initial: '100ms', retry_max: '400ms', retry_for: '1h' };
      c.metrics = { listen: '127.0.0.1:0' };
    });
    d = await startTestDaemon(env);
  });
  after(async () => {
    await d.stop();
    await sink.stop();
    env.cleanup();
  });
  beforeEach(() => sink.clear());

  const intakeOf = (reply: string) => Number(/queued as (\d+)/.exec(reply)![1]);
  const processed = (intakeId: number) => waitFor(async () => { const r = await d.app.intake.get(intakeId); return r && r.status !== 'received' && r.status !== 'processing' ? r : undefined; }, 'processed');
  const settled = () => waitFor(async () => (await d.app.outbox.list()).every((r) => r.status !== 'queued' && r.status !== 'deferred') || undefined, 'outbox drained');
  const rowsTo = async (address: string): Promise<OutboundRow[]> => (await d.app.outbox.list()).filter((r) => [...r.to, ...r.cc].some((p) => p.email === address));
  const ticket = (id: number) => cliJson<{ warnings: string[]; comments: unknown[]; audit: Array<{ change: string; rule: string; value: string }> }>(['tickets', 'show', String(id), '-c', env.configPath, '--json']);
  /** The return path the copy of `row` to `recipient` was sent with (R67). */
  const verpOf = (row: OutboundRow, recipient: string) => verpAddress(RETURN_PATH, row.id, recipient, d.app.ctx.secret);
  const suppressions = () => cliJson<Array<{ address: string; reason: string; code: string; bounces: number; since: string }>>(['suppressions', 'list', '-c', env.configPath, '--json']);

  /** A new ticket from `customer`; its receipt is sent; returns the ticket and the receipt's row. */
  async function ticketWithReceipt(customer: string, subject: string): Promise<{ ticketId: number; receipt: OutboundRow }> {
    const reply = await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('b'), subject, from: customer }), customer);
    const row = await processed(intakeOf(reply));
    await settled();
    const receipt = (await rowsTo(customer)).find((r) => r.ticket_id === row.ticket_id && r.status === 'sent')!;
    assert.ok(receipt, 'the receipt was sent');
    return { ticketId: row.ticket_id!, receipt };
  }

  it('R67: a notification\'s envelope sender is its signed VERP return path; the headers are unchanged', async () => {
    const { receipt } = await ticketWithReceipt('verp@customer.test', 'Envelope check');
    const sent = sink.to('verp@customer.test')[0]!;
    assert.equal(sent.envelopeFrom, verpOf(receipt, 'verp@customer.test'));
    assert.equal(sent.mail.from?.value[0]?.address, SUPPORT, 'From stays the support address');
  });

  it('R67, R68: a message to a requester and a CC goes as one copy each, each with its own return path; one recipient cannot bounce the other', async () => {
    const requester = 'req@customer.test';
    const cc = 'cc@customer.test';
    const reply = await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('b'), subject: 'Two copies', from: requester, cc }), requester);
    const ticketId = (await processed(intakeOf(reply))).ticket_id!;
    await settled();
    sink.clear();
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--comment', 'Both of you, please.', '--author', 'bob@acme.test']);
    await settled();
    const row = (await rowsTo(requester)).find((r) => r.cc.some((p) => p.email === cc))!;
    const copies = sink.messages.filter((m) => m.mail.messageId === row.message_id);
    assert.deepEqual(copies.map((m) => [m.rcpt, m.envelopeFrom]).sort(), [[[cc], verpOf(row, cc)], [[requester], verpOf(row, requester)]]);
    assert.equal(copies[0]!.mail.headers.get('cc') !== undefined && copies[1]!.mail.headers.get('cc') !== undefined, true, 'both copies show To and Cc as written');
    // The CC forges a report about the requester, sent to the return path of their own copy.
    const forged = deliveryReport({ to: verpOf(row, cc), recipient: requester, status: '5.1.1' });
    await processed(intakeOf(await sendMail(d.port, verpOf(row, cc), forged, '')));
    const listed = await suppressions();
    assert.equal(listed.some((x) => x.address === requester), false, 'the requester is not suppressed');
    assert.equal(listed.some((x) => x.address === cc), true, 'the report speaks only for the copy it came back to');
  });

  it('R5, R67: RCPT takes the return path only in its signed form', async () => {
    const { receipt } = await ticketWithReceipt('rcpt@customer.test', 'RCPT check');
    const signed = verpOf(receipt, 'rcpt@customer.test');
    const refused = [RETURN_PATH, signed.replace(/-[0-9a-f]{4}/, '-0000'), signed.replace(`+${receipt.id}-`, `+${receipt.id + 1}-`), signed.replace(/[0-9a-f]{16}@/, '@')];
    for (const rcpt of refused) assert.match(await sendMail(d.port, rcpt, 'Subject: x\r\n\r\nx\r\n', ''), /^550 5\.1\.1/, rcpt);
  });

  it('R67, R68: a hard bounce to the return path marks the row bounced, warns and audits the ticket, suppresses the address, and is never a comment or answered', async () => {
    const customer = 'gone@customer.test';
    const { ticketId, receipt } = await ticketWithReceipt(customer, 'Hard bounce');
    const commentsBefore = (await ticket(ticketId)).comments.length;
    const rowsBefore = (await d.app.outbox.list()).length;
    sink.clear();
    const dsn = deliveryReport({ to: verpOf(receipt, customer), recipient: customer, status: '5.1.1', diagnostic: '550 5.1.1 <gone@customer.test>: User unknown', originalMessageId: receipt.message_id });
    const intake = await processed(intakeOf(await sendMail(d.port, verpOf(receipt, customer), dsn, '')));
    assert.equal(intake.status, 'done');
    assert.equal(intake.ticket_id, ticketId);
    assert.equal(intake.comment_id, null, 'R67: no comment');
    const row = (await d.app.outbox.byId(receipt.id))!;
    assert.equal(row.status, 'bounced');
    assert.match(row.last_error!, /gone@customer\.test: 5\.1\.1 550 5\.1\.1 <gone@customer\.test>: User unknown/);
    const t = await ticket(ticketId);
    assert.ok(t.warnings.includes('notification_bounced'));
    assert.equal(t.comments.length, commentsBefore);
    assert.ok(t.audit.some((a) => a.change === 'notification_bounced' && a.rule === 'R67' && a.value.includes(`outbox ${receipt.id}`)));
    assert.ok(t.audit.some((a) => a.change === 'address_suppressed' && a.rule === 'R68'));
    const s = (await suppressions()).find((x) => x.address === customer)!;
    assert.deepEqual([s.reason, s.code, s.bounces], ['hard_bounce', '5.1.1', 1]);
    await settled();
    assert.equal((await d.app.outbox.list()).length, rowsBefore, 'R67: never answered');
    assert.equal(sink.messages.length, 0);

    // R68: the next notification to the address is kept as suppressed, not sent.
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--comment', 'We looked into it.', '--author', 'bob@acme.test']);
    await settled();
    const suppressed = (await rowsTo(customer)).find((r) => r.status === 'suppressed')!;
    assert.ok(suppressed, 'a suppressed row');
    assert.match(suppressed.last_error!, /suppressed \(R68\): gone@customer\.test: hard_bounce 5\.1\.1/);
    assert.equal(sink.to(customer).length, 0);
    const listed = await cliJson<Array<{ status: string; kind: string }>>(['outbox', 'list', '-c', env.configPath, '--status', 'suppressed', '--json']);
    assert.ok(listed.length >= 1 && listed.every((r) => r.status === 'suppressed' && r.kind === 'email'));

    // R68: mail from the address makes it reachable again.
    const back = await processed(intakeOf(await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('back'), subject: 'Hard bounce', from: customer, inReplyTo: receipt.message_id }), customer)));
    assert.equal(back.status, 'done');
    assert.equal((await suppressions()).some((x) => x.address === customer), false);
  });

  it('R67: a report sent to a support address is matched by the returned Message-ID', async () => {
    const customer = 'byid@customer.test';
    const { ticketId, receipt } = await ticketWithReceipt(customer, 'Matched by Message-ID');
    const dsn = deliveryReport({ to: SUPPORT, recipient: customer, status: '5.2.1', originalMessageId: receipt.message_id });
    const intake = await processed(intakeOf(await sendMail(d.port, SUPPORT, dsn, '')));
    assert.deepEqual([intake.status, intake.ticket_id, intake.comment_id], ['done', ticketId, null]);
    assert.equal((await d.app.outbox.byId(receipt.id))!.status, 'bounced');
    assert.equal((await suppressions()).some((x) => x.address === customer), false, 'R68: not at the return path, so possibly forged: nobody suppressed');
  });

  it('R67: explain says what a bounce would do, and stores nothing', async () => {
    const customer = 'explain@customer.test';
    const { ticketId, receipt } = await ticketWithReceipt(customer, 'Explain a bounce');
    const to = verpOf(receipt, customer);
    const file = join(env.dir, 'bounce.eml');
    writeFileSync(file, deliveryReport({ to, recipient: customer, status: '5.1.1' }));
    const j = await cliJson<{ action: string; outbox_id: number; ticket_id: number; matched_by: string; suppressed: string[]; rules: string[] }>(['explain', file, '--recipient', to, '-c', env.configPath, '--json']);
    assert.deepEqual([j.action, j.outbox_id, j.ticket_id, j.matched_by, j.suppressed, j.rules], ['bounce', receipt.id, ticketId, 'verp', [customer], ['R67', 'R68']]);
    assert.equal((await d.app.outbox.byId(receipt.id))!.status, 'sent', 'a dry run');
    assert.equal((await suppressions()).some((x) => x.address === customer), false);
    const text = await runCli(['explain', file, '--recipient', to, '-c', env.configPath]);
    assert.match(text.stdout, new RegExp(`Decision: +BOUNCE of outbox ${receipt.id} \\(ticket ${ticketId}, matched by its return path\\)`));
    writeFileSync(file, deliveryReport({ to: SUPPORT, recipient: customer, status: '5.1.1', originalMessageId: '<nothing@elsewhere.test>' }));
    const un = await cliJson<{ action: string; suspended: string }>(['explain', file, '-c', env.configPath, '--json']);
    assert.deepEqual([un.action, un.suspended], ['suspend', 'unmatched_bounce']);
  });

  it('R67: a piped (or polled) bounce finds its return path in Delivered-To, as IMAP mail does', async () => {
    const customer = 'piped@customer.test';
    const { receipt } = await ticketWithReceipt(customer, 'Piped bounce');
    const verp = verpOf(receipt, customer);
    const dsn = `Delivered-To: ${verp}\r\n${deliveryReport({ to: 'someone-else@acme.test', recipient: customer, status: '5.1.1', originalMessageId: null })}`;
    const r = await runCli(['inject', '-c', env.configPath, '--json'], { input: dsn });
    assert.equal(r.code, 0, r.stderr);
    await waitFor(async () => ((await d.app.outbox.byId(receipt.id))!.status === 'bounced' ? true : undefined), 'the piped bounce processed');
  });

  it('R67: a bounce of nothing sent here is suspended as unmatched_bounce', async () => {
    const dsn = deliveryReport({ to: SUPPORT, recipient: 'stranger@customer.test', status: '5.1.1', originalMessageId: '<not-ours@elsewhere.test>' });
    const intake = await processed(intakeOf(await sendMail(d.port, SUPPORT, dsn, '')));
    assert.deepEqual([intake.status, intake.error_code], ['suspended', 'unmatched_bounce']);
    const listed = await cliJson<Array<{ id: number; reason: string }>>(['suspended', 'list', '-c', env.configPath, '--json']);
    assert.ok(listed.some((s) => s.id === intake.id && s.reason === 'unmatched_bounce'));
    const counted = await (await fetch(`http://127.0.0.1:${d.metricsPort}/metrics`)).text();
    assert.match(counted, /^deskgate_bounces_total\{result="unmatched"\} [1-9]/m);
    assert.match(counted, /^deskgate_bounces_total\{result="matched"\} [1-9]/m, 'the earlier tests\' bounces were counted too');
  });

  it('R67, R42: an auto-reply to a notification\'s return path is mail to its support address: a private note flagged automated, never a bounce', async () => {
    const customer = 'vacation@customer.test';
    const { ticketId, receipt } = await ticketWithReceipt(customer, 'Away');
    const to = verpOf(receipt, customer);
    const ooo = mail({ to, subject: 'Out of office', from: customer, inReplyTo: receipt.message_id }).toString().replace('\r\n\r\n', '\r\nAuto-Submitted: auto-replied\r\n\r\n');
    const intake = await processed(intakeOf(await sendMail(d.port, to, ooo, customer)));
    assert.deepEqual([intake.status, intake.ticket_id], ['done', ticketId]);
    const t = await cliJson<{ comments: Array<{ public: boolean; flags: string[] }> }>(['tickets', 'show', String(ticketId), '-c', env.configPath, '--json']);
    assert.deepEqual([t.comments.at(-1)!.public, t.comments.at(-1)!.flags.includes('automated')], [false, true]);
    assert.equal((await d.app.outbox.byId(receipt.id))!.status, 'sent', 'no bounce');
  });

  it('R67: mail at a signed return path of a row that does not exist is suspended as unmatched_bounce', async () => {
    const to = verpAddress(RETURN_PATH, 999_999, 'x@customer.test', d.app.ctx.secret);
    const intake = await processed(intakeOf(await sendMail(d.port, to, mail({ to, subject: 'Gone row' }), 'x@customer.test')));
    assert.deepEqual([intake.status, intake.error_code], ['suspended', 'unmatched_bounce']);
    // R41: released, it is mail like any, to the first support address.
    const released = await cliJson<{ status: string; ticket_id: number }>(['suspended', 'release', String(intake.id), '-c', env.configPath, '--json']);
    assert.equal(released.status, 'done');
    const t = await cliJson<{ recipient: string; subject: string }>(['tickets', 'show', String(released.ticket_id), '-c', env.configPath, '--json']);
    assert.deepEqual([t.recipient, t.subject], [SUPPORT, 'Gone row']);
  });

  it('R67: a qmail text bounce from MAILER-DAEMON is read and matched by its VERP address', async () => {
    const customer = 'qmail@customer.test';
    const { receipt } = await ticketWithReceipt(customer, 'qmail bounce');
    const to = verpOf(receipt, customer);
    const text = [
      'From: MAILER-DAEMON@mail.customer.test', `To: ${to}`, 'Subject: failure notice', 'Date: Wed, 02 Dec 2026 10:00:00 +0000', '',
      'Hi. This is the qmail-send program at mail.customer.test.', 'I\'m afraid I wasn\'t able to deliver your message to the following addresses.',
      'This is a permanent error; I\'ve given up. Sorry it didn\'t work out.', '', `<${customer}>:`, 'Sorry, no mailbox here by that name. (#5.1.1)', '',
      '--- Below this line is a copy of the message.', '', `Message-ID: ${receipt.message_id}`, 'Subject: whatever', '', 'body', '',
    ].join('\r\n');
    const intake = await processed(intakeOf(await sendMail(d.port, to, text, '')));
    assert.equal(intake.status, 'done');
    const row = (await d.app.outbox.byId(receipt.id))!;
    assert.equal(row.status, 'bounced');
    assert.match(row.last_error!, /^qmail@customer\.test: 5\.1\.1 /);
  });

  it('R68: soft bounces in a row suppress at soft_bounce_limit (2 here); remove starts over', async () => {
    const customer = 'full@customer.test';
    const { ticketId, receipt } = await ticketWithReceipt(customer, 'Mailbox full');
    const soft = (row: OutboundRow) => deliveryReport({ to: verpOf(row, customer), recipient: customer, status: '4.2.2', diagnostic: '452 4.2.2 Mailbox full' });
    await processed(intakeOf(await sendMail(d.port, verpOf(receipt, customer), soft(receipt), '')));
    assert.equal((await suppressions()).some((x) => x.address === customer), false, 'one soft bounce does not suppress');
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--comment', 'Second try.', '--author', 'bob@acme.test']);
    await settled();
    const second = (await rowsTo(customer)).filter((r) => r.status === 'sent').at(-1)!;
    assert.notEqual(second.id, receipt.id);
    await processed(intakeOf(await sendMail(d.port, verpOf(second, customer), soft(second), '')));
    const s = (await suppressions()).find((x) => x.address === customer)!;
    assert.deepEqual([s.reason, s.code, s.bounces], ['soft_bounce_limit', '4.2.2', 2]);

    const removed = await runCli(['suppressions', 'remove', customer.toUpperCase(), '-c', env.configPath]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await suppressions()).some((x) => x.address === customer), false);
    const again = await runCli(['suppressions', 'remove', customer, '-c', env.configPath]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /is not suppressed/);
  });
});

describe('R43 with R67: bounces to the return path are not refused per sender', () => {
  let env: TestEnv;
  let d: Daemon & { port: number };
  before(async () => {
    env = makeEnv((c) => {
      c.outbound = { return_path: RETURN_PATH };
      c.limits = { per_sender_per_hour: 1 };
    });
    d = await startTestDaemon(env);
  });
  after(async () => {
    await d.stop();
    env.cleanup();
  });

  it('R43, R67: past twice the hourly limit one mailer daemon\'s bounces are still taken; its mail to support is refused 450', async () => {
    const daemon = 'MAILER-DAEMON@mx.customer.test';
    for (let i = 1; i <= 4; i++) {
      const to = verpAddress(RETURN_PATH, i, `r${i}@customer.test`, d.app.ctx.secret);
      assert.match(await sendMail(d.port, to, deliveryReport({ to, recipient: `r${i}@customer.test`, status: '5.1.1', from: daemon }), ''), /^250 /, `bounce ${i}`);
    }
    const replies: string[] = [];
    for (let i = 1; i <= 3; i++) replies.push(await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('flood'), from: daemon, subject: `not a bounce ${i}` }), ''));
    assert.match(replies.at(-1)!, /^450 4\.7\.1/, 'R43 still guards the support address');
  });
});
