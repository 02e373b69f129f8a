import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../src/parse/index.js';
import { mail } from '../helpers/mail.js';

const REPLY_LINE = '##- Please type your reply above this line -##';
const parse = (raw: Buffer) => parseMessage(raw, { replyLine: REPLY_LINE });

const alt = (plain: { charset: string; body: string }, html: { charset: string; body: string }) => mail({
  rawBody: 'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
    + `--b1\r\nContent-Type: text/plain; charset=${plain.charset}\r\n\r\n${plain.body}\r\n`
    + `--b1\r\nContent-Type: text/html; charset=${html.charset}\r\n\r\n${html.body}\r\n--b1--\r\n`,
});

describe('R61, R62: control characters are removed at parse time (issue 13.5)', () => {
  it('R62: NUL is stripped from the subject, display names, text and HTML', async () => {
    const raw = alt({ charset: 'utf-8', body: 'Hello\0 there\0' }, { charset: 'utf-8', body: '<p>Hello\0 <b>there</b></p>' }).toString('latin1')
      .replace('Subject: Printer on fire', 'Subject: =?utf-8?q?Printer=00_on_fire?=')
      .replace('From: Carol <', `From: =?utf-8?b?${Buffer.from('Car\0ol').toString('base64')}?= <`);
    const p = await parse(Buffer.from(raw, 'latin1'));
    assert.equal(p.subject, 'Printer on fire');
    assert.equal(p.from[0]!.name, 'Carol');
    assert.equal(p.text, 'Hello there');
    assert.ok(p.html !== null && !p.html.includes('\0'));
    assert.match(p.html, /Hello <b>there<\/b>/);
  });

  it('R62: a raw NUL byte in the headers and in an HTML-only body is stripped too', async () => {
    const p = await parse(mail({ subject: 'Raw\0 nul', from: '"Ca\0rol" <carol@customer.test>', contentType: 'text/html; charset=utf-8', body: '<p>A\0B</p>' }));
    assert.equal(p.subject, 'Raw nul');
    assert.equal(p.from[0]!.name, 'Carol');
    assert.equal(p.text, 'AB');
    assert.equal(p.html, '<p>AB</p>');
  });

  it('R62: other C0 controls (ESC, BEL, backspace) are stripped; tab, line feed and form feed stay', async () => {
    const p = await parse(mail({ subject: '=?utf-8?q?Red=1B[31m_alert=07?=', body: 'Col1\tCol2\nEvil \x1b]0;title\x07 text\b\fpage 2\n' }));
    assert.equal(p.subject, 'Red[31m alert');
    assert.equal(p.text, 'Col1\tCol2\nEvil ]0;title text\fpage 2\n');
  });
});

describe('R62: UTF-7 bodies are decoded (issue 13.5)', () => {
  it('R62: a charset=utf-7 text/plain body', async () => {
    const p = await parse(mail({ contentType: 'text/plain; charset=utf-7', body: 'Hi, the caf+AOk- printer costs 5+IKw- +- tax.\n' }));
    assert.equal(p.text, 'Hi, the café printer costs 5€ + tax.\n');
  });

  it('R62: a charset="UTF-7" HTML-only body is decoded, then sanitised (a UTF-7 <script> is removed)', async () => {
    const p = await parse(mail({ contentType: 'text/html; charset="UTF-7"', body: '+ADw-script+AD4-alert(1)+ADw-/script+AD4-+ADw-p+AD4-Caf+AOk-+ADw-/p+AD4-' }));
    assert.equal(p.html, '<p>Café</p>');
    assert.equal(p.text, 'Café');
  });

  it('R62: multipart/alternative with a UTF-7 text part and a UTF-8 HTML part: each in its charset', async () => {
    const p = await parse(alt({ charset: 'utf-7', body: 'Gr+APw-+AN8-e' }, { charset: 'utf-8', body: '<p>C++ -and+- more</p>' }));
    assert.equal(p.text, 'Grüße');
    assert.equal(p.html, '<p>C++ -and+- more</p>');
  });

  it('R62: a UTF-8 body that only quotes a UTF-7 Content-Type line is left alone', async () => {
    const body = 'The old mail said:\nContent-Type: text/plain; charset=utf-7\n\nand C++ -is+- fine.\n';
    const p = await parse(mail({ body }));
    assert.equal(p.text, body);
  });
});
