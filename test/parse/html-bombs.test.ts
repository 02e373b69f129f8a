import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../src/parse/index.js';
import { htmlNestingExceeds, htmlToPlainText, MAX_HTML_DEPTH, MAX_HTML_TO_TEXT_CHARS } from '../../src/parse/html-text.js';
import { mail } from '../helpers/mail.js';

const REPLY_LINE = '##- Please type your reply above this line -##';
const parse = (raw: Buffer) => parseMessage(raw, { replyLine: REPLY_LINE });

/** A single-part HTML mail (no text/plain part: R61 converts the HTML). */
const htmlMail = (html: string) => mail({ subject: 'HTML bomb', contentType: 'text/html; charset=utf-8', body: html });

/** multipart/alternative: a text/plain part and an HTML part. */
const altMail = (text: string, html: string) => mail({
  subject: 'Alternative',
  rawBody: 'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n'
    + `--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n`
    + `--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${html}\r\n--b1--\r\n`,
});

describe('R61, R8: HTML that the converters cannot handle still becomes text (issue 13.3)', () => {
  it('R61: 5,000 unclosed <font> tags (HTML only) become text flagged html_simplified, not a RangeError', { timeout: 20_000 }, async () => {
    const p = await parse(htmlMail(`<p>Hello from Carol</p>${'<font>spam '.repeat(5000)}<p>The printer is on fire</p>`));
    assert.deepEqual(p.flags, ['html_simplified']);
    assert.match(p.text, /^Hello from Carol\nspam spam /);
    assert.match(p.text, /The printer is on fire$/);
    assert.equal(p.visibleText, p.text);
    assert.equal(p.html, null, 'the deep HTML is not stored: sanitize-html is quadratic in its depth');
  });

  it('R61: 10,000 nested <div> become text flagged html_simplified', { timeout: 20_000 }, async () => {
    const p = await parse(htmlMail(`${'<div>'.repeat(10_000)}deep text &amp; more${'</div>'.repeat(10_000)}`));
    assert.deepEqual(p.flags, ['html_simplified']);
    assert.equal(p.text, 'deep text & more');
  });

  it('R61: unclosed tags beside a text/plain part: the text part is kept, the HTML simplified, in bounded time', { timeout: 20_000 }, async () => {
    // sanitize-html needs about 9 s for 100k unclosed tags (quadratic); the pre-scan stops it.
    const started = Date.now();
    const p = await parse(altMail('The plain text part.', `${'<b>'.repeat(100_000)}bold`));
    const ms = Date.now() - started;
    assert.equal(p.text, 'The plain text part.');
    assert.equal(p.html, null);
    assert.deepEqual(p.flags, ['html_simplified']);
    assert.ok(ms < 4000, `parse took ${ms} ms`);
  });

  it('R61: a RangeError inside html-to-text (depth the pre-scan does not count) falls back to the plain extraction', { timeout: 20_000 }, async () => {
    // <tr> and <td> close implicitly, so the pre-scan counts only <table>: 999 levels pass it,
    // but the DOM is 3,000 deep, past the main thread's stack for html-to-text's recursion.
    const n = MAX_HTML_DEPTH - 1;
    const p = await parse(htmlMail(`${'<table><tr><td>'.repeat(n)}cell text${'</td></tr></table>'.repeat(n)}`));
    assert.deepEqual(p.flags, ['html_simplified']);
    assert.equal(p.text, 'cell text');
    assert.ok(p.html !== null && p.html.includes('cell text'), 'sanitize-html managed, so the HTML is kept');
  });

  it('R61: HTML longer than the converter limit: text from its start, flagged truncated, nothing printed on the console', { timeout: 60_000 }, async () => {
    const para = '<p>Line of a very long report &amp; more.</p>\n';
    const html = `${para.repeat(Math.ceil((MAX_HTML_TO_TEXT_CHARS + 512 * 1024) / para.length))}<p>THE END</p>`;
    // html-to-text announces its own truncation with console.warn, past the JSON log.
    const printed: string[] = [];
    const methods = ['warn', 'log', 'error', 'info'] as const;
    const saved = methods.map((m) => console[m]);
    for (const m of methods) console[m] = (...a: unknown[]) => { printed.push(a.map(String).join(' ')); };
    let p;
    try {
      p = await parse(htmlMail(html));
    } finally {
      methods.forEach((m, i) => { console[m] = saved[i]!; });
    }
    assert.deepEqual(printed, []);
    assert.deepEqual(p.flags, ['truncated']);
    assert.match(p.text, /^Line of a very long report & more\.\n\nLine/);
    assert.ok(!p.text.includes('THE END'));
    assert.ok(p.text.endsWith('Line of a very long report & more.'), 'cut at a tag, not inside one');
    assert.ok(p.html?.includes('THE END'), 'the sanitised HTML keeps everything');
  });

  it('R61: ordinary HTML mail has no flags', async () => {
    const p = await parse(htmlMail('<p>Hello <b>there</b></p><ul><li>one<li>two</ul>'));
    assert.deepEqual(p.flags, []);
    assert.match(p.text, /Hello there/);
  });
});

describe('html-text: the linear pre-scan and extraction', () => {
  it('counts nesting the way htmlparser2 builds it: void and implicitly closed elements, comments and script text do not nest', async () => {
    const deep = (n: number) => '<span>'.repeat(n);
    assert.equal(htmlNestingExceeds(deep(10), 10), false);
    assert.equal(htmlNestingExceeds(deep(11), 10), true);
    assert.equal(htmlNestingExceeds('<br><img src=x><p><p><li><li><td><td>'.repeat(100), 10), false);
    assert.equal(htmlNestingExceeds(`<!-- ${deep(50)} --><script>${deep(50)}</script><style>${deep(50)}</style>`, 10), false);
    assert.equal(htmlNestingExceeds('<b></b>'.repeat(1000) + '<i><b></i>'.repeat(20), 10), false, 'a close tag closes down to its element');
    assert.equal(htmlNestingExceeds('</b>'.repeat(50) + deep(11), 10), true, 'a stray close tag closes nothing');
    assert.equal(htmlNestingExceeds('<a title="<b><b><b>">x</a>'.repeat(5), 2), false, 'quoted attribute values are not tags');
  });

  it('extracts text: script and style dropped, blocks on their own lines, entities decoded, spaces collapsed', async () => {
    const html = '<html><head><title>T</title><style>p{}</style></head><body><script>alert(1)</script>'
      + '<h1>Title</h1><p>One&nbsp;&amp;   two\n three</p><div>Caf&eacute; &#x263A;<br>next</div><table><tr><td>a</td><td>b</td></tr></table>x < y</body></html>';
    assert.equal(htmlToPlainText(html), 'Title\nOne & two three\nCafé ☺\nnext\na b\nx < y');
  });

  it('is linear on hostile input: 200,000 unclosed <script> and comment openers', { timeout: 20_000 }, async () => {
    const started = Date.now();
    assert.equal(htmlToPlainText(`text${'<script><!--'.repeat(200_000)}`), 'text');
    assert.equal(htmlToPlainText(`a${'<!--'.repeat(200_000)}`), 'a');
    assert.equal(htmlToPlainText(`a${'<a title="'.repeat(200_000)}`), 'a');
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  });
});
