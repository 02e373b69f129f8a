import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, BILLING, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, runCli } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import { Dovecot, IMAP_USER, IMAP_PASS } from '../helpers/dovecot.js';
import type { Daemon } from '../../src/daemon.js';

/** Headers a hop adds in front of a message (what differs between copies of one mail, R65). */
const withTrace = (raw: Buffer, ...lines: string[]) => Buffer.concat([Buffer.from(lines.map((l) => `${l}\r\n`).join('')), raw]);

describe('a reused Message-ID is not a duplicate (R65), redeliveries still are (R7)', () => {
  const dovecot = new Dovecot();
  let env: TestEnv;
  let d: Daemon & { port: number };

  before(async () => {
    await dovecot.start();
    env = makeEnv((c) => {
      c.imap = [{ host: '127.0.0.1', port: dovecot.port, secure: false, user: IMAP_USER, pass: IMAP_PASS, mailbox: 'INBOX', processed_mailbox: 'Processed', poll_interval: '1s', idle: true }];
    });
    d = await startTestDaemon(env, { parseWorkers: 1 });
  });
  after(async () => {
    await d?.stop();
    await dovecot.destroy();
    env?.cleanup();
  });

  const comments = async (messageId: string) => (await d.app.sql.all('SELECT ticket_id, flags FROM comments WHERE message_id = ? ORDER BY id', [messageId])) as Array<{ ticket_id: number; flags: string }>;
  const waitComments = (messageId: string, n: number) => waitFor(async () => ((await comments(messageId)).length >= n ? (await comments(messageId)) : undefined), `${n} comment(s) with ${messageId}`, 15_000);
  /** Delivers over SMTP; resolves with the reply and, when stored anew, the processed intake row. */
  async function deliver(raw: Buffer, rcpt: string | string[] = SUPPORT) {
    const reply = await sendMail(d.port, rcpt, raw);
    assert.match(reply, /^250 /, reply);
    const intakeId = Number(/queued as (\d+)/.exec(reply)![1]);
    const row = await waitFor(async () => {
      const r = (await d.app.intake.get(intakeId));
      return r && (r.status === 'done' || r.status === 'failed') ? r : undefined;
    }, `intake ${intakeId} processed`);
    assert.equal(row.status, 'done', row.error ?? '');
    return { reply, row, duplicate: / \(duplicate\)/.test(reply) };
  }

  it('R7/R65: an MTA retry (the same mail behind other Received lines) is stored once', async () => {
    const id = uniqueId('retry');
    const raw = mail({ messageId: id, subject: 'Retry me' });
    const first = await deliver(withTrace(raw, 'Received: from relay1.customer.test by mx1.customer.test; Mon, 23 Nov 2026 10:00:01 +0000'));
    const again = await deliver(withTrace(raw, 'Received: from relay2.customer.test by mx2.customer.test; Mon, 23 Nov 2026 10:05:42 +0000',
      'Received: from relay1.customer.test by mx1.customer.test; Mon, 23 Nov 2026 10:00:01 +0000'));
    assert.ok(again.duplicate, again.reply);
    assert.equal(again.row.id, first.row.id);
    assert.equal((await comments(id)).length, 1);
  });

  it('R7/R65: an IMAP copy (with Return-Path, Delivered-To, X-Original-To, Authentication-Results) and an SMTP copy are one comment', async () => {
    const id = uniqueId('copies');
    const raw = mail({ messageId: id, subject: 'Two copies' });
    // What Dovecot's LDA and the MTA in front of it add to the mailbox copy (LF line ends on disk).
    const mailboxCopy = withTrace(raw, 'Return-Path: <carol@customer.test>', 'Delivered-To: support@acme.test', 'X-Original-To: support@acme.test',
      'Authentication-Results: mail.acme.test; spf=pass smtp.mailfrom=customer.test', 'ARC-Seal: i=1; a=rsa-sha256; d=acme.test; s=arc; cv=none; b=AAAA',
      'X-Spam-Status: No, score=-0.1', 'Received: from mx.customer.test by mail.acme.test with LMTP; Mon, 23 Nov 2026 10:00:02 +0000');
    dovecot.deliverToMaildir(mailboxCopy.toString('latin1').replace(/\r\n/g, '\n'), 'copy');
    const [c] = await waitComments(id, 1);
    assert.equal((await d.app.intake.get((await d.app.sql.value('SELECT intake_id FROM comments WHERE message_id = ?', [id])) as number))!.via, 'imap');
    const smtp = await deliver(raw);
    assert.ok(smtp.duplicate, smtp.reply);
    // The pipe with LF line ends (as an MTA's pipe transport gives it) agrees too.
    const piped = await runCli(['inject', '-c', env.configPath, '--json'], { input: raw.toString('latin1').replace(/\r\n/g, '\n') });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal((JSON.parse(piped.stdout) as { duplicate: boolean }).duplicate, true);
    assert.equal((await comments(id)).length, 1);
    assert.equal(c!.flags, '[]');
  });

  it('R7/R65: one mail to two support addresses is one ticket, also when it comes again for the other address', async () => {
    const id = uniqueId('two');
    const raw = mail({ messageId: id, to: [BILLING, SUPPORT], subject: 'To both' });
    const first = await deliver(raw, [SUPPORT, BILLING]);
    const second = await deliver(withTrace(raw, 'Delivered-To: billing@acme.test', 'X-Original-To: billing@acme.test'), BILLING);
    assert.ok(second.duplicate, second.reply);
    assert.equal((await comments(id)).length, 1);
    assert.equal((await d.app.views.show(first.row.ticket_id!))!.recipient, BILLING);
  });

  it('R65: a different message reusing a stored Message-ID is stored, flagged message_id_reused, and threads by its own headers', async () => {
    const id = uniqueId('reused');
    const other = uniqueId('other');
    const t0 = (await deliver(mail({ messageId: other, subject: 'Earlier ticket' }))).row.ticket_id!;
    const a = await deliver(mail({ messageId: id, subject: 'Invoice 1001', body: 'Your invoice 1001.' }));
    // Same id, other content, no reply headers: a new ticket of its own.
    const b = await deliver(mail({ messageId: id, subject: 'Invoice 1002', body: 'Your invoice 1002.' }));
    assert.equal(b.duplicate, false, b.reply);
    assert.notEqual(b.row.ticket_id, a.row.ticket_id);
    // Same id, other content, a reply to the earlier ticket: it threads there (R10).
    const c = await deliver(mail({ messageId: id, subject: 'Re: Earlier ticket', body: 'More on this.', inReplyTo: other }));
    assert.equal(c.row.ticket_id, t0);
    const stored = (await comments(id));
    assert.deepEqual(stored.map((x) => x.ticket_id), [a.row.ticket_id, b.row.ticket_id, t0]);
    assert.deepEqual(stored.map((x) => JSON.parse(x.flags) as string[]), [[], ['message_id_reused'], ['message_id_reused']]);
    // The id still threads to the ticket it first came with, not to the later ones.
    const reply = await deliver(mail({ messageId: uniqueId('reply'), subject: 'Re: Invoice 1001', inReplyTo: id }));
    assert.equal(reply.row.ticket_id, a.row.ticket_id);
    // A redelivery of the second message is a duplicate of it (R7).
    const retry = await deliver(withTrace(mail({ messageId: id, subject: 'Invoice 1002', body: 'Your invoice 1002.' }), 'Received: from relay9 by mx; Mon, 23 Nov 2026 11:00:00 +0000'));
    assert.ok(retry.duplicate, retry.reply);
    assert.equal(retry.row.id, b.row.id);
    assert.equal((await comments(id)).length, 3);
    const shown = (await d.app.views.show(b.row.ticket_id!))!;
    assert.deepEqual(shown.comments![0]!.flags, ['message_id_reused']);
  });

  it('R65: a message stored before content digests (migration 7) gets its digest from its raw bytes when its id comes again', async () => {
    for (const size of ['small', 'large'] as const) {
      const id = uniqueId(`legacy-${size}`);
      // Large messages are in a raw file, small ones in the database (intake_raw).
      const body = size === 'large' ? `${'x'.repeat(990)}\n`.repeat(300) : 'Old message.\n';
      const raw = mail({ messageId: id, subject: `Legacy ${size}`, body });
      const first = await deliver(raw);
      assert.equal(first.row.raw_path !== null, size === 'large');
      (await d.app.sql.run('UPDATE intake SET content_digest = NULL WHERE id = ?', [first.row.id]));
      const again = await deliver(withTrace(raw, 'Received: from relay2 by mx2; Mon, 23 Nov 2026 10:09:00 +0000'));
      assert.ok(again.duplicate, `${size}: ${again.reply}`);
      assert.match((await d.app.sql.value('SELECT content_digest FROM intake WHERE id = ?', [first.row.id])) as string, /^[0-9a-f]{64}$/);
      const different = await deliver(mail({ messageId: id, subject: `Legacy ${size}`, body: 'A different message.\n' }));
      assert.equal(different.duplicate, false, different.reply);
      assert.deepEqual((await comments(id)).map((x) => JSON.parse(x.flags) as string[]), [[], ['message_id_reused']]);
    }
  });

  it('R7: a message without Message-ID is still keyed by its bytes', async () => {
    const raw = mail({ messageId: null, subject: 'No id at all', body: `Unique ${uniqueId()}\n` });
    const first = await deliver(raw);
    const again = await deliver(raw);
    assert.ok(again.duplicate, again.reply);
    assert.equal(again.row.id, first.row.id);
  });
});
