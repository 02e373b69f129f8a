import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { SmtpClient } from '../helpers/smtp.js';
import type { Daemon } from '../../src/daemon.js';

/** One RFC 3463 enhanced code after the basic code, of the same class, and not a second one after it. */
function assertEnhanced(reply: string, basic: string, enhanced: string): void {
  assert.match(reply, new RegExp(`^${basic} ${enhanced.replace(/\./g, '\\.')} `), reply);
  assert.doesNotMatch(reply, /^\d{3} [245]\.\d{1,3}\.\d{1,3} [245]\.\d{1,3}\.\d{1,3}/, `doubled enhanced code: ${reply}`);
}

describe('SMTP replies: banner, ENHANCEDSTATUSCODES (RFC 2034), recipient limit (RFC 5321 4.5.3.1.8)', () => {
  let env: TestEnv;
  let d: Daemon & { port: number };

  before(async () => {
    env = makeEnv();
    d = await startTestDaemon(env);
  });
  after(async () => {
    await d.stop();
    env.cleanup();
  });

  it('the banner names ESMTP once', async () => {
    const c = await SmtpClient.connect(d.port);
    try {
      assert.equal(c.greeting, '220 mx.acme.test ESMTP deskgate');
      assert.equal(c.greeting.match(/ESMTP/g)!.length, 1);
    } finally {
      await c.quit();
    }
  });

  it('EHLO offers ENHANCEDSTATUSCODES and every library reply carries one enhanced code', async () => {
    const c = await SmtpClient.connect(d.port);
    c.takeFullReplies();
    const last = await c.cmd('EHLO client.test');
    const ehlo = c.takeFullReplies().at(-1)!;
    assert.equal(ehlo.at(-1), last);
    assert.ok(ehlo.some((l) => /^250[- ]ENHANCEDSTATUSCODES$/.test(l)), ehlo.join('\n'));
    assert.doesNotMatch(ehlo.join('\n'), /^250[- ]\d\.\d/m, 'RFC 2034: no enhanced code on EHLO lines');
    assertEnhanced(await c.cmd('NOOP'), '250', '2.0.0');
    assertEnhanced(await c.cmd('MAIL FROM:<carol@customer.test>'), '250', '2.1.0');
    assertEnhanced(await c.cmd(`RCPT TO:<${SUPPORT}>`), '250', '2.1.5');
    assertEnhanced(await c.cmd('RSET'), '250', '2.0.0');
    assertEnhanced(await c.cmd('DATA'), '503', '5.5.1');
    assertEnhanced(await c.cmd('FOO'), '500', '5.5.2');
    assertEnhanced(await c.send('carol@customer.test', [SUPPORT], mail({ messageId: uniqueId('esc') })), '250', '2.0.0');
    assertEnhanced(await c.cmd('QUIT'), '221', '2.0.0');
    c.destroy();
  });

  it("deskgate's own refusals keep their enhanced code, once", async () => {
    const c = await SmtpClient.connect(d.port);
    try {
      await c.cmd('EHLO client.test');
      assertEnhanced(await c.cmd('MAIL FROM:<not an address>'), '501', '5.1.7'); // the library's syntax check
      assertEnhanced(await c.cmd('MAIL FROM:<carol@nodot>'), '553', '5.1.7'); // deskgate's
      assertEnhanced(await c.cmd('MAIL FROM:<carol@customer.test>'), '250', '2.1.0');
      assertEnhanced(await c.cmd('RCPT TO:<nobody@acme.test>'), '550', '5.1.1');
      assertEnhanced(await c.cmd(`RCPT TO:<${SUPPORT}>`), '250', '2.1.5');
      const big = mail({ body: 'x'.repeat(76).concat('\n').repeat(16_000) }); // ~1.2 MB > 1MB limit
      assertEnhanced(await c.data(big), '552', '5.3.4');
      const bare = Buffer.from(`From: carol@customer.test\r\nTo: ${SUPPORT}\r\nSubject: x\r\n\r\nline\nsmuggled\r\n`);
      await c.cmd('MAIL FROM:<carol@customer.test>');
      await c.cmd(`RCPT TO:<${SUPPORT}>`);
      assert.match(await c.cmd('DATA'), /^354/);
      c.write(Buffer.concat([bare, Buffer.from('.\r\n')]));
      assertEnhanced(await c.reply(), '554', '5.5.2');
    } finally {
      await c.quit();
    }
  });

  it('RFC 5321 4.5.3.1.8: 100 recipients are accepted by default, the 101st gets 452 4.5.3', async () => {
    const c = await SmtpClient.connect(d.port);
    try {
      await c.cmd('EHLO client.test');
      await c.cmd('MAIL FROM:<carol@customer.test>');
      const replies: string[] = [];
      for (let i = 1; i <= 101; i++) replies.push(await c.cmd(`RCPT TO:<support+r${i}@acme.test>`));
      assert.deepEqual(replies.slice(0, 100).filter((r) => !r.startsWith('250 ')), [], 'the first 100 are accepted');
      assertEnhanced(replies[100]!, '452', '4.5.3');
      // The transaction goes on with the 100 accepted recipients.
      const id = uniqueId('rcpt100');
      assertEnhanced(await c.data(mail({ messageId: id })), '250', '2.0.0');
      const row = (await d.app.sql.get('SELECT envelope_to FROM intake WHERE message_id = ?', [id])) as { envelope_to: string } | undefined;
      assert.ok(row, 'stored');
    } finally {
      await c.quit();
    }
  });
});

describe('per-IP session limit and the allowlist', () => {
  it('an allowlisted relay may open more sessions than max_sessions_per_ip; others get 421 4.7.0', async () => {
    const env = makeEnv((c) => { Object.assign(c.smtp as Record<string, unknown>, { max_sessions_per_ip: 2, client_allowlist: ['127.0.0.1'] }); });
    const d = await startTestDaemon(env);
    const open: SmtpClient[] = [];
    try {
      for (let i = 0; i < 6; i++) open.push(await SmtpClient.connect(d.port));
      assert.equal(d.smtp.sessions, 6);
      assertEnhanced(await open[5]!.cmd('NOOP'), '250', '2.0.0');
    } finally {
      for (const c of open) c.destroy();
      await d.stop();
      env.cleanup();
    }
    const env2 = makeEnv((c) => { Object.assign(c.smtp as Record<string, unknown>, { max_sessions_per_ip: 2, client_allowlist: ['10.0.0.0/8'] }); });
    const d2 = await startTestDaemon(env2);
    try {
      open.splice(0, open.length, await SmtpClient.connect(d2.port), await SmtpClient.connect(d2.port));
      await assert.rejects(SmtpClient.connect(d2.port), /bad greeting: 421 4\.7\.0 Too many connections/);
    } finally {
      for (const c of open) c.destroy();
      await d2.stop();
      env2.cleanup();
    }
  });
});
