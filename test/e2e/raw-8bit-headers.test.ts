import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, cliJson, runCli } from '../helpers/daemon.js';
import { uniqueId } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import type { Daemon } from '../../src/daemon.js';

const ascii = (s: string) => Buffer.from(s, 'latin1');

/** A mail with a raw 8-bit Subject and From name in `charset`, declared only on its text part. */
function cjkMail(charset: string, subject: string, name: string, address: string, partCharset: string | null): Buffer {
  const enc = (s: string) => iconv.encode(s, charset);
  return Buffer.concat([
    ascii('From: '), enc(name), ascii(` <${address}>\r\nTo: ${SUPPORT}\r\nSubject: `), enc(subject),
    ascii(`\r\nDate: Mon, 23 Nov 2026 10:00:00 +0900\r\nMessage-ID: ${uniqueId('cjk')}\r\nMIME-Version: 1.0\r\n`),
    ascii('Content-Type: multipart/alternative; boundary="p"\r\n\r\n--p\r\n'),
    ascii(`Content-Type: text/plain${partCharset ? `; charset=${partCharset}` : ''}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`),
    enc('お問い合わせありがとうございます。内容を確認のうえ、ご連絡いたします。'), ascii('\r\n--p--\r\n'),
  ]);
}

describe('raw 8-bit Subject and display names end to end (R66)', () => {
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

  async function ticketOf(reply: string): Promise<number> {
    assert.match(reply, /^250 /, reply);
    const intakeId = Number(/queued as (\d+)/.exec(reply)![1]);
    const row = await waitFor(async () => { const r = (await d.app.intake.get(intakeId)); return r && r.status !== 'received' && r.status !== 'processing' ? r : undefined; }, 'processing');
    assert.equal(row.status, 'done', row.error ?? '');
    return row.ticket_id!;
  }

  it('R66: GB2312 over SMTP (text part charset=gb2312): subject and requester name in tickets show --json', async () => {
    const id = await ticketOf(await sendMail(d.port, SUPPORT, cjkMail('gb2312', '发票金额有误', '王芳', 'wang@customer.test', 'gb2312'), 'wang@customer.test'));
    const t = await cliJson(['tickets', 'show', String(id), '-c', env.configPath]);
    assert.equal(t.subject, '发票金额有误');
    assert.deepEqual(t.requester, { email: 'wang@customer.test', name: '王芳' });
  });

  it('R66: Shift_JIS through the pipe with no charset declared anywhere (detected)', async () => {
    // The suite's daemon is running: --process makes inject process the message itself and print its ticket.
    const r = await runCli(['inject', '-c', env.configPath, '--json', '--process'], { input: cjkMail('shift_jis', '請求書の金額について', '佐藤花子', 'sato@customer.test', null) });
    assert.equal(r.code, 0, r.stderr);
    const t = await cliJson(['tickets', 'show', String((JSON.parse(r.stdout) as { ticket_id: number }).ticket_id), '-c', env.configPath]);
    assert.equal(t.subject, '請求書の金額について');
    assert.deepEqual(t.requester, { email: 'sato@customer.test', name: '佐藤花子' });
  });
});
