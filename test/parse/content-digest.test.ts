import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ContentDigest, contentDigest } from '../../src/parse/header-fields.js';

const base = 'From: Carol <carol@customer.test>\r\nTo: support@acme.test\r\nSubject: Printer\r\n  on fire\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <a@customer.test>\r\n\r\nLine one.\r\n\r\nLine two.\r\n';
const d = (s: string) => contentDigest(Buffer.from(s, 'latin1'));

describe('R65 content digest', () => {
  it('R65: the same whatever the chunking (header end and CRLF split across chunks)', () => {
    const bytes = Buffer.from(base);
    for (const size of [1, 2, 3, 7, 64]) {
      const c = new ContentDigest();
      for (let i = 0; i < bytes.length; i += size) c.feed(bytes.subarray(i, i + size));
      assert.equal(c.digest(), d(base), `chunks of ${size}`);
    }
  });

  it('R65: trace headers, other headers, LF line ends and trailing line breaks do not count', () => {
    assert.equal(d(`Received: from x by y; Mon, 23 Nov 2026 10:00:01 +0000\r\nReturn-Path: <carol@customer.test>\r\nDelivered-To: support@acme.test\r\n${base}`), d(base));
    assert.equal(d(base.replace('To: support@acme.test', 'To: billing@acme.test')), d(base));
    assert.equal(d(base.replace(/\r\n/g, '\n')), d(base));
    assert.equal(d(`${base}\r\n\r\n`), d(base));
    assert.equal(d(base.replace('Printer\r\n  on fire', 'Printer on fire')), d(base));
  });

  it('R65: From, Date, Subject and every body byte count', () => {
    for (const changed of [
      base.replace('carol@', 'dave@'), base.replace('10:00:00', '10:00:01'), base.replace('on fire', 'on ice'),
      base.replace('Line two.', 'Line 2.'), base.replace('Line one.\r\n\r\n', 'Line one.\r\n'), `${base}Line three.\r\n`,
    ]) assert.notEqual(d(changed), d(base), changed);
  });
});
