import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createMessageParser, byteBatches, type MessageParser } from '../../src/parse/index.js';
import { DeskgateError } from '../../src/shared/errors.js';
import { mail } from '../helpers/mail.js';

const REPLY_LINE = '##- Please type your reply above this line -##';

/**
 * Measured on the 2-core test machine (one parser thread, warm): flat HTML parses in linear
 * time (200 KB ≈ 0.5 s, 6 MB ≈ 3.6 s; deep nesting is cut short by the HTML guard, issue 13.3).
 * Booting a parser thread from source under tsx takes ≈ 2 s before it parses anything.
 */
function htmlMail(bytes: number, kind: 'nested' | 'flat', tag: string): Buffer {
  const unit = kind === 'nested' ? '<div>' : '<p>Hello, the printer <b>is</b> on fire again.</p>\n';
  return mail({ subject: tag, contentType: 'text/html; charset=utf-8', body: `<html><body>${unit.repeat(Math.ceil(bytes / unit.length))}</body></html>` });
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    const m = (await p) as { subject: string };
    return `ok:${m.subject}`;
  } catch (err) {
    return err instanceof DeskgateError ? err.code : `other:${String(err)}`;
  }
}

/** Threads of this process (Linux), to see that the pool's threads end. */
function threadCount(): number {
  return Number(/^Threads:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
}

async function closeWithin(p: MessageParser, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.close(), new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`close() took over ${ms} ms`)), ms); })]);
  clearTimeout(timer);
}

describe('parser pool: per-message timeout, memory limit, fair queueing (R8)', () => {
  it('R8: the timeout counts from when the thread starts the message, not from thread boot', { timeout: 30_000 }, async () => {
    // A fresh thread's first answer is boot (≈ 0.35 s here) plus a cold parse (≈ 0.03 s); half of
    // it is more than the parse and less than the boot.
    const probe = createMessageParser({ workers: 1, replyLine: REPLY_LINE, timeoutMs: 60_000 });
    const t0 = performance.now();
    try { await probe.parse(mail({ subject: 'probe' })); } finally { await closeWithin(probe, 5000); }
    const timeoutMs = Math.round((performance.now() - t0) / 2);
    const p = createMessageParser({ workers: 1, replyLine: REPLY_LINE, timeoutMs });
    try {
      assert.equal(await outcome(p.parse(mail({ subject: 'first' }))), 'ok:first', `timeout ${timeoutMs} ms`);
    } finally { await closeWithin(p, 5000); }
  });

  it('R8: a good mail queued behind a hostile slow parse is parsed; only the bomb fails with PARSE_TIMEOUT', { timeout: 60_000 }, async () => {
    const p = createMessageParser({ workers: 1, replyLine: REPLY_LINE, timeoutMs: 1500 });
    try {
      const bomb = htmlMail(12_000_000, 'flat', 'bomb'); // several seconds of sanitising, well past 1.5 s
      const results = await Promise.all([outcome(p.parse(bomb)), outcome(p.parse(mail({ subject: 'good one' }))), outcome(p.parse(mail({ subject: 'good two' })))]);
      assert.deepEqual(results, ['PARSE_TIMEOUT', 'ok:good one', 'ok:good two']);
      const err = await p.parse(bomb).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof DeskgateError && err.code === 'PARSE_TIMEOUT');
      assert.equal(err.context.bytes, bomb.length);
      // The replaced thread keeps working.
      assert.equal(await outcome(p.parse(mail({ subject: 'after' }))), 'ok:after');
    } finally { await closeWithin(p, 5000); }
  });

  it('R8, issue 14: a parse killed by its timeout leaves none of the scratch files its thread wrote', { timeout: 60_000 }, async () => {
    const { mkdtempSync, readdirSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'dg-scratch-timeout-'));
    const p = createMessageParser({ workers: 1, replyLine: REPLY_LINE, timeoutMs: 1500, scratchDir: dir });
    try {
      // The attachment streams into a scratch file first; the HTML after it then runs past the timeout.
      const html = `<html><body>${'<p>Hello, the printer <b>is</b> on fire again.</p>\n'.repeat(250_000)}</body></html>`;
      const rawBody = ['Content-Type: multipart/mixed; boundary="b1"', '', '--b1', 'Content-Type: application/octet-stream; name="a.bin"', 'Content-Transfer-Encoding: base64', '',
        Buffer.alloc(300_000, 7).toString('base64').replace(/.{76}/g, '$&\r\n'), '--b1', 'Content-Type: text/html; charset=utf-8', '', html, '--b1--', ''].join('\r\n');
      assert.equal(await outcome(p.parse(mail({ subject: 'bomb with attachment', rawBody }))), 'PARSE_TIMEOUT');
      await new Promise((r) => setTimeout(r, 200)); // the removal runs beside the rejection
      assert.deepEqual(readdirSync(dir), []);
    } finally {
      await closeWithin(p, 5000);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('R8: several big mails that each parse in time alone all succeed when they arrive together', { timeout: 120_000 }, async () => {
    const timeoutMs = 1500;
    const p = createMessageParser({ workers: 1, replyLine: REPLY_LINE, timeoutMs });
    try {
      const big = (i: number) => htmlMail(400_000, 'flat', `big ${i}`);
      // Each alone, warm, on this machine (≈ 0.25 s); then enough of them together to take
      // three timeouts in all, which only a timer per started message survives.
      const times: number[] = [];
      for (let i = 0; i < 4; i++) {
        const t0 = performance.now();
        assert.equal(await outcome(p.parse(big(0))), 'ok:big 0');
        times.push(performance.now() - t0);
      }
      const alone = times.slice(1).sort((a, b) => a - b)[1]!;
      const n = Math.min(40, Math.ceil((3 * timeoutMs) / alone));
      const t0 = performance.now();
      const results = await Promise.all(Array.from({ length: n }, (_, i) => outcome(p.parse(big(i + 1)))));
      const all = performance.now() - t0;
      assert.deepEqual(results, Array.from({ length: n }, (_, i) => `ok:big ${i + 1}`), `alone ${Math.round(alone)} ms, ${n} together`);
      assert.ok(all > 2 * timeoutMs, `the ${n} together (${Math.round(all)} ms) took longer than two timeouts`);
    } finally { await closeWithin(p, 5000); }
  });

  it('R8: a mail that exhausts the parser thread\'s memory fails PARSE_TOO_BIG alone; the others parse', { timeout: 60_000 }, async () => {
    const p = createMessageParser({ workers: 1, replyLine: REPLY_LINE, timeoutMs: 30_000, maxMemoryMb: 48 });
    try {
      const huge = htmlMail(4_000_000, 'flat', 'huge');
      const results = await Promise.all([outcome(p.parse(mail({ subject: 'before' }))), outcome(p.parse(huge)), outcome(p.parse(mail({ subject: 'behind' })))]);
      assert.deepEqual(results, ['ok:before', 'PARSE_TOO_BIG', 'ok:behind']);
      assert.equal(await outcome(p.parse(mail({ subject: 'after' }))), 'ok:after');
    } finally { await closeWithin(p, 5000); }
  });

  it('R8: close() ends every parser thread, fails what was still queued, and refuses new work', { timeout: 60_000 }, async () => {
    const before = threadCount();
    const p = createMessageParser({ workers: 2, replyLine: REPLY_LINE, timeoutMs: 30_000 });
    assert.equal(await outcome(p.parse(mail({ subject: 'one' }))), 'ok:one');
    assert.equal(await outcome(p.parse(mail({ subject: 'two' }))), 'ok:two');
    const pending = outcome(p.parse(htmlMail(300_000, 'nested', 'slow')));
    await closeWithin(p, 5000);
    assert.equal(await pending, 'PARSE_CLOSED');
    assert.equal(await outcome(p.parse(mail())), 'PARSE_CLOSED');
    // Thread exit is reported a moment after terminate() resolves.
    for (let i = 0; i < 50 && threadCount() > before; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(threadCount() <= before, `threads before ${before}, after close ${threadCount()}`);
  });

  it('R8: inline parsing (0 threads, the CLI) still parses', async () => {
    const p = createMessageParser({ workers: 0, replyLine: REPLY_LINE });
    assert.equal(await outcome(p.parse(mail({ subject: 'inline' }))), 'ok:inline');
    await p.close();
  });
});

describe('byteBatches: a batch never holds more raw bytes than its budget', () => {
  const sizes = (groups: { size: number }[][]) => groups.map((g) => g.map((x) => x.size));
  it('groups in order up to the budget; an item larger than the budget goes alone', async () => {
    const items = [10, 20, 30, 100, 5, 5, 60, 40].map((size) => ({ size }));
    assert.deepEqual(sizes(byteBatches(items, (x) => x.size, 60)), [[10, 20, 30], [100], [5, 5], [60], [40]]);
  });
  it('keeps every item exactly once and never splits an empty list', async () => {
    assert.deepEqual(byteBatches([], (x: { size: number }) => x.size, 10), []);
    const items = Array.from({ length: 64 }, (_, i) => ({ size: 20_000_000 + i }));
    const groups = byteBatches(items, (x) => x.size, 64_000_000);
    assert.deepEqual(groups.flat(), items);
    assert.ok(groups.every((g) => g.reduce((s, x) => s + x.size, 0) <= 64_000_000));
    assert.equal(groups.length, 22);
  });
});
