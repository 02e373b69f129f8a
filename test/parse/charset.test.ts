import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { parseMessage } from '../../src/parse/index.js';

const REPLY_LINE = '##- Please type your reply above this line -##';
const enc = (s: string, charset: string) => iconv.encode(s, charset);
const ascii = (s: string) => Buffer.from(s, 'latin1');

/**
 * A message whose Subject and display names are raw 8-bit bytes in `charset` (no encoded
 * words), as Chinese and Japanese mailers send them; the charset is declared (if at all) only on
 * the text part, `partCharset`.
 */
function rawMail(o: { charset: string; subject: string; fromName: string; toName?: string; ccName?: string; body: string; partCharset: string | null; multipart: boolean }): Buffer {
  const h = (name: string, ...parts: Buffer[]) => Buffer.concat([ascii(`${name}: `), ...parts, ascii('\r\n')]);
  const partType = `Content-Type: text/plain${o.partCharset ? `; charset=${o.partCharset}` : ''}\r\nContent-Transfer-Encoding: 8bit\r\n`;
  const headers = [
    h('From', ascii('"'), enc(o.fromName, o.charset), ascii('" <sender@customer.test>')),
    h('To', ...(o.toName ? [enc(o.toName, o.charset), ascii(' ')] : []), ascii('<support@acme.test>')),
    ...(o.ccName ? [h('Cc', enc(o.ccName, o.charset), ascii(' <colleague@customer.test>'))] : []),
    h('Subject', enc(o.subject, o.charset)),
    ascii('Date: Mon, 23 Nov 2026 10:00:00 +0800\r\nMessage-ID: <cjk-1@customer.test>\r\nMIME-Version: 1.0\r\n'),
  ];
  const body = enc(o.body, o.charset);
  if (!o.multipart) return Buffer.concat([...headers, ascii(partType + '\r\n'), body, ascii('\r\n')]);
  return Buffer.concat([...headers, ascii('Content-Type: multipart/alternative; boundary="b1"\r\n\r\n--b1\r\n' + partType + '\r\n'), body,
    ascii('\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>see text</p>\r\n--b1--\r\n')]);
}

describe('raw 8-bit headers without a charset (R66)', () => {
  it('R66: a GB2312 Subject and From name are read in the charset of the first text part of a multipart mail', async () => {
    const p = await parseMessage(rawMail({ charset: 'gb2312', subject: '打印机着火了', fromName: '张伟', ccName: '李娜', body: '请尽快处理。', partCharset: 'gb2312', multipart: true }), { replyLine: REPLY_LINE });
    assert.equal(p.subject, '打印机着火了');
    assert.deepEqual(p.from, [{ address: 'sender@customer.test', name: '张伟' }]);
    assert.deepEqual(p.cc, [{ address: 'colleague@customer.test', name: '李娜' }]);
    assert.equal(p.text.trim(), '请尽快处理。');
  });

  it('R66: a Shift_JIS Subject, From and To name are read in the text part\'s shift_jis', async () => {
    const p = await parseMessage(rawMail({ charset: 'shift_jis', subject: 'プリンターが燃えています', fromName: '山田太郎', toName: 'サポート', body: 'よろしくお願いします。', partCharset: 'shift_jis', multipart: false }), { replyLine: REPLY_LINE });
    assert.equal(p.subject, 'プリンターが燃えています');
    assert.deepEqual(p.from, [{ address: 'sender@customer.test', name: '山田太郎' }]);
    assert.deepEqual(p.to, [{ address: 'support@acme.test', name: 'サポート' }]);
  });

  it('R66: with no charset declared anywhere, the charset is detected (GB2312 and Shift_JIS)', async () => {
    const gb = await parseMessage(rawMail({ charset: 'gb2312', subject: '关于发票的问题，请尽快回复', fromName: '张伟', body: '您好，我们上个月的发票金额不对，请帮忙核对一下。谢谢！', partCharset: null, multipart: true }), { replyLine: REPLY_LINE });
    assert.equal(gb.subject, '关于发票的问题，请尽快回复');
    assert.equal(gb.from[0]!.name, '张伟');
    const sj = await parseMessage(rawMail({ charset: 'shift_jis', subject: '請求書についてのお問い合わせ', fromName: '山田太郎', body: 'お世話になっております。先月の請求書の金額が違うようです。ご確認ください。', partCharset: null, multipart: false }), { replyLine: REPLY_LINE });
    assert.equal(sj.subject, '請求書についてのお問い合わせ');
    assert.equal(sj.from[0]!.name, '山田太郎');
  });

  it('R66: a declared charset that cannot read the header bytes gives way to detection', async () => {
    const p = await parseMessage(rawMail({ charset: 'shift_jis', subject: '請求書についてのお問い合わせ', fromName: '山田太郎', body: 'Hello, plain ASCII body.', partCharset: 'us-ascii', multipart: false }), { replyLine: REPLY_LINE });
    assert.equal(p.subject, '請求書についてのお問い合わせ');
  });

  it('R66: Latin-1 last, when nothing is declared and detection is unsure', async () => {
    const p = await parseMessage(rawMail({ charset: 'latin1', subject: 'Grüße', fromName: 'Jörg', body: 'Hallo', partCharset: null, multipart: false }), { replyLine: REPLY_LINE });
    assert.equal(p.subject, 'Grüße');
    assert.equal(p.from[0]!.name, 'Jörg');
  });

  it('R66: valid UTF-8 raw headers stay as they are, whatever the text part declares', async () => {
    const p = await parseMessage(rawMail({ charset: 'utf-8', subject: '打印机 Grüße', fromName: '张伟 Jörg', ccName: 'Łukasz', body: 'x', partCharset: 'gb2312', multipart: true }), { replyLine: REPLY_LINE });
    assert.equal(p.subject, '打印机 Grüße');
    assert.equal(p.from[0]!.name, '张伟 Jörg');
    assert.equal(p.cc[0]!.name, 'Łukasz');
    const single = await parseMessage(rawMail({ charset: 'utf-8', subject: '打印机 Grüße', fromName: '张伟 Jörg', body: 'x', partCharset: 'gb2312', multipart: false }), { replyLine: REPLY_LINE });
    assert.equal(single.subject, '打印机 Grüße');
    assert.equal(single.from[0]!.name, '张伟 Jörg');
  });

  it('R62: encoded words are still decoded by mailparser, next to an 8-bit name elsewhere', async () => {
    const raw = Buffer.concat([ascii('From: "'), enc('张伟', 'gb2312'), ascii('" <zw@customer.test>\r\nTo: =?utf-8?B?5pSv5oyB?= <support@acme.test>\r\nSubject: =?gb2312?B?'),
      ascii(enc('打印机', 'gb2312').toString('base64')), ascii('?=\r\nContent-Type: text/plain; charset=gb2312\r\n\r\nhi\r\n')]);
    const p = await parseMessage(raw, { replyLine: REPLY_LINE });
    assert.equal(p.subject, '打印机');
    assert.equal(p.to[0]!.name, '支持');
    assert.equal(p.from[0]!.name, '张伟');
  });
});
