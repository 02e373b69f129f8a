import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseMessage } from '../../src/parse/index.js';
import { deliveryStatus, readBounce } from '../../src/parse/bounce.js';
import { automatedReason, isBounceMessage } from '../../src/rules/index.js';
import { REAL_MAIL_DIR, skipWithoutCorpus } from '../helpers/corpus.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/bounce-forms/', import.meta.url));
const REPLY_LINE = '##- Please type your reply above this line -##';
const parse = (raw: Buffer | string) => parseMessage(Buffer.isBuffer(raw) ? raw : Buffer.from(raw), { replyLine: REPLY_LINE });

describe('R67: RFC 3464 delivery-status fields', () => {
  it('R67: each recipient block gives address, action, status and diagnostic; delivered ones are left out', () => {
    const got = deliveryStatus([
      'Reporting-MTA: dns; mx.example.net', 'Arrival-Date: Wed, 2 Dec 2026 10:00:00 +0000', '',
      'Final-Recipient: rfc822; Gone@Example.NET', 'Original-Recipient: rfc822;gone@example.net', 'Action: failed', 'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.1.1 <gone@example.net>: Recipient address', '    rejected: User unknown', '',
      'Final-Recipient: rfc822; ok@example.net', 'Action: delivered', 'Status: 2.0.0', '',
      'Original-Recipient: rfc822; slow@example.net', 'Action: delayed', 'Status: 4.4.1', '',
    ].join('\r\n'));
    assert.deepEqual(got, [
      { address: 'gone@example.net', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown' },
      { address: 'slow@example.net', action: 'delayed', status: '4.4.1', diagnostic: null },
    ]);
  });

  it('R67: a status missing from its field is read from the diagnostic, else from the action', () => {
    const got = deliveryStatus('Final-Recipient: rfc822; a@x.test\nAction: failed\nDiagnostic-Code: smtp; 552 mailbox full\n\nFinal-Recipient: rfc822; b@x.test\nAction: failed\n');
    assert.deepEqual(got.map((r) => r.status), ['5.0.0', '5.0.0']);
    const fromCode = deliveryStatus('Final-Recipient: rfc822; a@x.test\nAction: failed\nStatus: junk\nDiagnostic-Code: smtp; 550-5.2.2 over quota\n');
    assert.equal(fromCode[0]!.status, '5.2.2');
  });

  it('R67: an IP address in the diagnostic is not read as a status', () => {
    const got = deliveryStatus('Final-Recipient: rfc822; a@x.test\nAction: failed\nDiagnostic-Code: X-Postfix; connect to 10.5.1.1[10.5.1.1]:25: Connection refused\n');
    assert.equal(got[0]!.status, '5.0.0');
  });
});

describe('R67: reports that nothing failed, and addresses that only appear', () => {
  const successText = 'This is the mail system at host mx.example.net.\n\nYour message was successfully delivered to the destination(s)\nlisted below. If the message was delivered to mailbox you will\nreceive no further notifications.\n\n                   The mail system\n\n<jane@example.net>: delivery via mail.example.net[192.0.2.1]:25: 250 2.0.0 Ok\n';
  const report = (status: string) => readBounce({ contentType: 'multipart/report', reportType: 'delivery-status', text: successText,
    reportParts: [{ contentType: 'message/delivery-status', text: `Reporting-MTA: dns; mx.example.net\n\n${status}\n` }] })!;

  it('R67: a success report (NOTIFY=SUCCESS) names no failure: its text is not read as a bounce', () => {
    const b = report('Final-Recipient: rfc822; jane@example.net\nAction: delivered\nStatus: 2.0.0');
    assert.deepEqual([b.recipients, b.noFailure], [[], true]);
  });
  it('R67: "relayed", and "failed" with a 2.x.x code, are no failures either', () => {
    assert.equal(report('Final-Recipient: rfc822; jane@example.net\nAction: relayed\nStatus: 2.0.0').noFailure, true);
    assert.equal(report('Final-Recipient: rfc822; jane@example.net\nAction: failed\nStatus: 2.0.0').noFailure, true);
  });
  it('R67: the same success text flattened to a plain mail is no bounce', () => {
    assert.equal(readBounce({ contentType: 'text/plain', reportType: null, reportParts: [], text: successText }), null);
  });
  it('R67: addresses in the returned headers of an Exchange report never bounced; its Message-ID is read from them', async () => {
    const raw = readFileSync(join(FIXTURES, 'exchange-text-no-copy.eml'), 'utf8')
      + '\nOriginal message headers:\n\nFrom: "Acme Support" <support@acme.test>\nTo: <left@example.org>\nCc: boss@example.org, colleague@example.org,\n other@example.org\nMessage-ID: <dg.7.exchange@acme.test>\nSubject: [Ticket #7] Printer on fire\n';
    const b = (await parse(raw)).bounce!;
    assert.deepEqual(b.recipients.map((r) => [r.address, r.status]), [['left@example.org', '5.1.1']]);
    assert.equal(b.originalMessageId, '<dg.7.exchange@acme.test>');
  });
});

describe('R67: text bounces are read within bounds', () => {
  const qmail = (body: string) => readBounce({ contentType: 'text/plain', reportType: null, reportParts: [], text: `Hi. This is the qmail-send program at mx.example.net.\n${body}` });
  it('R67: at most 100 recipients are read from one text bounce', () => {
    const b = qmail(Array.from({ length: 500 }, (_, i) => `<r${i}@example.net>:\nSorry, no mailbox here by that name. (#5.1.1)\n`).join('\n'))!;
    assert.equal(b.recipients.length, 100);
    assert.deepEqual([b.recipients[0]!.address, b.recipients[0]!.status], ['r0@example.net', '5.1.1']);
  });
  it('R67: only the first 64 KB of the failure section is read; a long word there is no address', () => {
    assert.deepEqual(qmail(`${'x'.repeat(70_000)}\n<late@example.net>:\n550 5.1.1 unknown\n`)!.recipients, []);
    assert.deepEqual(qmail(`${'a'.repeat(200_000)}`)!.recipients, []);
  });
});

describe('R67: bounces in the real-mail corpus', () => {
  const skip = skipWithoutCorpus();
  const file = (name: string) => readFileSync(join(REAL_MAIL_DIR, 'mail', name));

  it('R67: a Postfix report for five recipients names each, 5.1.1, and the returned message\'s Message-ID', { skip }, async () => {
    const b = (await parse(file('mikel-multipart_report-multi_address_bounce1.eml'))).bounce!;
    assert.equal(b.form, 'rfc3464');
    assert.equal(b.recipients.length, 5);
    assert.ok(b.recipients.every((r) => r.action === 'failed' && r.status === '5.1.1' && r.address.endsWith('@gmail.com')));
    assert.match(b.recipients[0]!.diagnostic!, /^550-5\.1\.1 The email account that you tried to reach does not exist/);
    assert.equal(b.originalMessageId, '<118707422.15521266992174819.JavaMail.root@lvmail01>');
  });

  it('R67: a Sendmail report returns text/rfc822-headers: the original Message-ID comes from them, not the bounce\'s own', { skip }, async () => {
    const p = await parse(file('mikel-multipart_report-report_530.eml'));
    assert.deepEqual(p.bounce!.recipients, [{ address: 'edwin@zzzzzzz.com', action: 'failed', status: '5.3.0', diagnostic: '553 5.3.0 <edwin@zzzzzzz.com>... Unknown E-Mail Address' }]);
    assert.equal(p.bounce!.originalMessageId, '<200712232303.lBNN3jDq002941@mail12.rrrr.com.au>');
    assert.notEqual(p.messageId, p.bounce!.originalMessageId);
  });

  it('R67: a report cut off before its status part is still a report, naming no one', { skip }, async () => {
    const b = (await parse(file('phpmime-failure.eml'))).bounce!;
    assert.deepEqual([b.form, b.recipients, b.originalMessageId], ['rfc3464', [], null]);
  });

  it('R67: no other corpus mail reads as a bounce', { skip }, async () => {
    const bounces = ['mikel-multipart_report-multi_address_bounce1.eml', 'mikel-multipart_report-report_530.eml', 'phpmime-failure.eml'];
    const others: string[] = [];
    for (const name of readdirSync(join(REAL_MAIL_DIR, 'mail')).filter((n) => n.endsWith('.eml') && !bounces.includes(n))) {
      const p = await parse(file(name)).catch(() => null);
      if (p?.bounce) others.push(`${name}: ${p.bounce.form}`);
    }
    assert.deepEqual(others, []);
  });
});

interface Expected { form: string | null; recipient?: string; status?: string; action?: string; original_message_id?: string | null; is_bounce: boolean }

describe('R67: non-standard bounces (test/fixtures/bounce-forms)', () => {
  const expected: Record<string, Expected> = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'));
  it('R67: every fixture has an expectation', () => {
    assert.deepEqual(readdirSync(FIXTURES).filter((f) => f.endsWith('.eml')).sort(), Object.keys(expected).sort());
  });
  for (const [name, want] of Object.entries(expected)) {
    it(`R67: ${name} reads as ${want.form ?? 'no report'} and is ${want.is_bounce ? '' : 'not '}a bounce`, async () => {
      const p = await parse(readFileSync(join(FIXTURES, name)));
      // What the pipeline decides: a text form counts only from a robot (R42).
      const automated = automatedReason(p.trust, p.from[0]?.address ?? null, false);
      assert.equal(isBounceMessage({ bounce: p.bounce, verpOutboxId: null, automated, skip: [] }), want.is_bounce);
      const b = p.bounce;
      if (want.form === null) return assert.equal(b, null);
      assert.ok(b, 'recognised');
      assert.equal(b.form, want.form);
      assert.equal(b.standard, false);
      assert.deepEqual(b.recipients.map((r) => [r.address, r.action, r.status]), [[want.recipient, want.action, want.status]]);
      assert.ok(b.recipients[0]!.diagnostic, 'the remote server\'s words are kept');
      assert.equal(b.originalMessageId, want.original_message_id ?? null);
    });
  }
});
