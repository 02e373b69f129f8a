import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseMessage, cutReply } from '../../src/parse/index.js';
import { decodeUtf7 } from '../../src/parse/header-charset.js';
import { REAL_MAIL_DIR as CORPUS, skipWithoutCorpus } from '../helpers/corpus.js';

const REPLY_LINE = '##- Please type your reply above this line -##';

/**
 * Where deskgate's answer differs from the upstream suite's, and why. Anything else that
 * differs fails the test.
 */
const KNOWN_SUBJECT_DIFFERENCES: Record<string, string> = {
  'mail/zbateson-m2005.eml': 'the file holds the bytes of U+FFFD inside an iso-8859-1 encoded word: the original letter is gone',
  'mail/zbateson-m2014.eml': 'same as m2005',
};
const KNOWN_CUT_DIFFERENCES: Record<string, string> = {
  'erp-email_sent_from_my_not_signature.eml': 'crisp\'s parser treats any "Sent from my …" line as a signature',
  'erp-email_1_1.eml': 'github\'s test expects the "-Name" signature cut; crisp\'s own email_1 expects it kept (same text)',
};

describe('real-world mail corpus (R61-R64)', () => {
  const skip = skipWithoutCorpus();
  const json = <T>(file: string): T => JSON.parse(readFileSync(join(CORPUS, file), 'utf8')) as T;
  const files = skip ? [] : readdirSync(join(CORPUS, 'mail')).filter((f) => f.endsWith('.eml'));
  it('has the 141 corpus mails', { skip }, () => assert.equal(files.length, 141));

  it('R8/R61: every corpus mail parses to a ParsedMessage without throwing', { skip }, async () => {
    for (const f of files) {
      const p = await parseMessage(readFileSync(join(CORPUS, 'mail', f)), { replyLine: REPLY_LINE });
      assert.equal(typeof p.text, 'string', f);
      assert.equal(typeof p.visibleText, 'string', f);
      assert.ok(!p.subject.includes('\n'), `${f}: subject has a line break`);
      for (const a of p.attachments) assert.match(a.sha256, /^[0-9a-f]{64}$/, f);
    }
  });

  it('R62: subjects and From addresses match what the upstream suites assert', { skip }, async () => {
    const upstream = json<Record<string, { subject?: string; from?: string | null }>>('upstream-expected.json');
    const wrong: string[] = [];
    let checked = 0;
    for (const [file, exp] of Object.entries(upstream)) {
      const p = await parseMessage(readFileSync(join(CORPUS, file)), { replyLine: REPLY_LINE });
      if (exp.subject !== undefined && exp.subject !== p.subject && !KNOWN_SUBJECT_DIFFERENCES[file]) wrong.push(`${file}: subject ${JSON.stringify(p.subject)} != ${JSON.stringify(exp.subject)}`);
      if (exp.from !== undefined && (exp.from ?? null) !== (p.from[0]?.address ?? null)) wrong.push(`${file}: from ${p.from[0]?.address} != ${exp.from}`);
      checked++;
    }
    assert.deepEqual(wrong, []);
    assert.ok(checked >= 60, `only ${checked} upstream expectations checked`);
  });

  it('R64: the reply cut matches the upstream reply-parser suites (52 of 54, 2 named differences)', { skip }, async () => {
    const replyExpected = json<Record<string, string>>('reply-cut/expected.json');
    const wrong: string[] = [];
    let matched = 0;
    for (const [file, expected] of Object.entries(replyExpected)) {
      const p = await parseMessage(readFileSync(join(CORPUS, 'reply-cut', file)), { replyLine: REPLY_LINE });
      const same = p.visibleText.replace(/\r/g, '').trim() === expected.replace(/\r/g, '').trim();
      if (same) matched++;
      else if (!KNOWN_CUT_DIFFERENCES[file]) wrong.push(file);
    }
    assert.deepEqual(wrong, []);
    assert.equal(matched, Object.keys(replyExpected).length - Object.keys(KNOWN_CUT_DIFFERENCES).length);
  });
});

describe('reply cut (R57, R64)', () => {
  const cases: Array<[string, string, string]> = [
    ['text above the reply line', 'Yes please.\n\n##- Please type your reply above this line -##\nOld stuff', 'Yes please.'],
    ['a Gmail quote header', 'Done.\n\nOn Mon, 23 Nov 2026 at 10:00, Acme <support@acme.test> wrote:\n> old', 'Done.'],
    ['an Outlook rule before From:', 'New text\n\n________________________________\nFrom: Acme\nSent: today\n\nold', 'New text'],
    ['an Outlook "Original Message" line', 'New text\n\n-----Original Message-----\nFrom: Acme\n\nold', 'New text'],
    ['nothing to cut', 'Just a message.\nTwo lines.', 'Just a message.\nTwo lines.'],
    ['a fully quoted message keeps its text rather than nothing', '> only a quote\n> here', '> only a quote\n> here'],
  ];
  for (const [name, text, expected] of cases) {
    it(`R64: ${name}`, () => assert.equal(cutReply(text, REPLY_LINE), expected));
  }
});

describe('header charset repairs (R62)', () => {
  it('decodes UTF-7', () => assert.equal(decodeUtf7('Fr+APY-sche'), 'Frösche'));
  it('reads raw 8-bit subjects in the body charset', async () => {
    const raw = Buffer.concat([
      Buffer.from('From: a@b.test\r\nTo: support@acme.test\r\nSubject: Fr', 'latin1'), Buffer.from([0xf6]),
      Buffer.from('sche\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nhi\r\n', 'latin1')]);
    const p = await parseMessage(raw, { replyLine: REPLY_LINE });
    assert.equal(p.subject, 'Frösche');
  });
});
