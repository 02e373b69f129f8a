import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createLogger, chooseLogFormat, type LogSurroundings, type LogFormat } from '../../src/shared/logger.js';
import { DeskgateError, errorCode } from '../../src/shared/errors.js';

/** The real logger writing into memory: each line parsed as the JSON a collector would read. */
function capture(): { lines: () => Array<Record<string, unknown>>; logger: ReturnType<typeof createLogger> } {
  let text = '';
  const logger = createLogger('debug', {}, { destination: { write: (s: string) => { text += s; } } });
  return { logger, lines: () => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function sqliteBusy(): Error {
  const dir = mkdtempSync(join(tmpdir(), 'deskgate-busy-'));
  const a = new Database(join(dir, 'x.sqlite'));
  const b = new Database(join(dir, 'x.sqlite'));
  try {
    a.exec('CREATE TABLE t (x)');
    b.pragma('busy_timeout = 0');
    a.exec('BEGIN IMMEDIATE');
    try { b.exec('INSERT INTO t VALUES (1)'); } catch (err) { return err as Error; }
    throw new Error('expected SQLITE_BUSY');
  } finally {
    a.close(); b.close(); rmSync(dir, { recursive: true, force: true });
  }
}

describe('error log lines carry a stable code (issue 12)', () => {
  it('a DeskgateError, a SQLite error, a Node error, a plain Error and a string each get a top-level code', () => {
    const { logger, lines } = capture();
    const log = logger.child({ stage: 'store' });
    log.error({ event: 'a', err: new DeskgateError('STORE_RAW_MISSING', 'raw bytes missing') }, 'a');
    log.error({ event: 'b', err: sqliteBusy() }, 'b');
    let enoent: unknown;
    try { readFileSync('/nonexistent/deskgate'); } catch (err) { enoent = err; }
    log.warn({ event: 'c', err: enoent }, 'c');
    log.error({ event: 'd', err: new Error('boom') }, 'd');
    log.warn({ event: 'e', error: 'smarthost said no' }, 'e');
    log.error(new DeskgateError('OPS_LISTEN', 'cannot listen'), 'f'); // the error as the first argument
    log.error({ event: 'g', code: 'IMAP_AUTH_FAILED', err: new Error('NO [AUTHENTICATIONFAILED]') }, 'g');
    log.info({ event: 'h' }, 'h');
    const codes = lines().map((l) => [l.msg, l.code]);
    assert.deepEqual(codes, [
      ['a', 'STORE_RAW_MISSING'], ['b', 'SQLITE_BUSY'], ['c', 'ENOENT'], ['d', 'INTERNAL'], ['e', 'INTERNAL'],
      ['f', 'OPS_LISTEN'], ['g', 'IMAP_AUTH_FAILED'], ['h', undefined],
    ]);
    const first = lines()[0]!;
    assert.equal(first.stage, 'store');
    assert.equal((first.err as { message: string }).message, 'raw bytes missing'); // the error itself still serialized
  });

  it('errorCode: only UPPER_SNAKE codes of real errors count', () => {
    assert.equal(errorCode(Object.assign(new Error('x'), { code: 42 })), 'INTERNAL');
    assert.equal(errorCode(Object.assign(new Error('x'), { code: 'lower' })), 'INTERNAL');
    assert.equal(errorCode({ code: 'ENOENT' }), 'INTERNAL'); // not an Error
    assert.equal(errorCode(new Error('x'), 'PIPELINE_ERROR'), 'PIPELINE_ERROR');
    assert.equal(errorCode(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' })), 'ERR_INVALID_ARG_TYPE');
  });
});

describe('log.format: human lines on a terminal, JSON for machines (issue 12)', () => {
  const at = (over: Partial<LogSurroundings>): LogSurroundings => ({ stderrIsTTY: true, env: {}, dockerenv: false, ...over });
  const cases: Array<[string, LogFormat, LogSurroundings, 'json' | 'pretty']> = [
    ['auto on a terminal', 'auto', at({}), 'pretty'],
    ['auto piped', 'auto', at({ stderrIsTTY: false }), 'json'],
    ['auto under systemd (JOURNAL_STREAM)', 'auto', at({ env: { JOURNAL_STREAM: '8:12345' } }), 'json'],
    ['auto under systemd (INVOCATION_ID)', 'auto', at({ env: { INVOCATION_ID: 'abc' } }), 'json'],
    ['auto in Docker, even with -t', 'auto', at({ dockerenv: true }), 'json'],
    ['auto in podman (container=)', 'auto', at({ env: { container: 'podman' } }), 'json'],
    ['json on a terminal', 'json', at({}), 'json'],
    ['pretty piped', 'pretty', at({ stderrIsTTY: false }), 'pretty'],
    ['pretty under systemd', 'pretty', at({ env: { INVOCATION_ID: 'abc' } }), 'pretty'],
  ];
  for (const [name, format, s, expected] of cases) {
    it(`${name}: ${expected}`, () => assert.equal(chooseLogFormat(format, s), expected));
  }
});
