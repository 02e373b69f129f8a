import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, TEST_BACKEND, type TestEnv } from '../helpers/env.js';
import { openDatabase, type NewIntake } from '../../src/store/index.js';
import { createIntakeCommitter, type IntakeCommitter } from '../../src/store/intake-committer.js';
import { isLockedStoreError } from '../../src/store/sql.js';
import { newWriteGateMemory, writeGate } from '../../src/shared/write-gate.js';
import { createLogger } from '../../src/shared/logger.js';
import { errorCode } from '../../src/shared/errors.js';

// serve on SQLite commits intake on a thread of its own (issue 15): the WAL write and fsync of
// each group commit, and its wait for the write lock, never run on the SMTP loop.

const skip = TEST_BACKEND === 'postgres' ? 'SQLite only: PostgreSQL commits off the loop already' : false;
const silent = createLogger('silent');
const settled = async (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => 'resolved', () => 'rejected'), new Promise((r) => setTimeout(() => r('pending'), ms))]);

describe('the intake commit thread (issue 15)', { skip }, () => {
  let env: TestEnv;
  let committer: IntakeCommitter;
  let n = 0;
  const gate = newWriteGateMemory(1);
  const row = (over: Partial<NewIntake> = {}): NewIntake => {
    const i = ++n;
    return {
      dedupeKey: `mid:<c${i}@x>`, messageId: `<c${i}@x>`, rawPath: null, rawInline: Buffer.from(`raw bytes ${i}\r\n`), rawSize: 13, rawSha256: `h${i}`,
      via: 'smtp', envelopeFrom: 'carol@customer.test', envelopeTo: ['support@acme.test'], remoteIp: '127.0.0.1', helo: 'x',
      sender: 'carol@customer.test', subject: `S${i}`, receivedAt: '2026-12-02T10:00:00.000Z', contentDigest: `d${i}`, ...over,
    };
  };
  before(() => {
    env = makeEnv();
    openDatabase(env.config.data_dir).close(); // migrated, as serve's listener connection does first
    committer = createIntakeCommitter({ dataDir: env.config.data_dir, lockWaitMs: 300, gate }, silent);
  });
  after(async () => { await committer.close(); env.cleanup(); });

  it('R6, R7: commits a batch on its thread; the rows and their bytes are in the database; a redelivery is a duplicate', async () => {
    const rows = [row(), row(), row()];
    const results = await committer.commit(rows);
    assert.deepEqual(results.map((r) => r.duplicate), [false, false, false]);
    const db = openDatabase(env.config.data_dir, { readonly: true });
    try {
      for (const [i, r] of results.entries()) {
        const stored = db.prepare('SELECT i.message_id, r.bytes FROM intake i JOIN intake_raw r ON r.intake_id = i.id WHERE i.id = ?').get(r.id) as { message_id: string; bytes: Buffer };
        assert.equal(stored.message_id, rows[i]!.messageId);
        assert.ok(Buffer.isBuffer(stored.bytes) && stored.bytes.equals(rows[i]!.rawInline!), 'the bytes are a blob, as on the loop');
      }
    } finally { db.close(); }
    const again = await committer.commit([{ ...rows[1]! }]);
    assert.deepEqual(again.map((r) => [r.id, r.duplicate]), [[results[1]!.id, true]]);
  });

  it('waits at the write gate while a processing transaction holds it, and goes on when it ends', async () => {
    const processing = writeGate(gate, 0);
    await processing.acquire();
    const pending = committer.commit([row()]);
    assert.equal(await settled(pending, 150), 'pending', 'the commit waits for the processing transaction');
    assert.equal(processing.wanted(), true, 'and says so, so that processing gives way');
    processing.release();
    assert.equal((await pending)[0]!.duplicate, false);
  });

  it('R6: a lock held past lockWaitMs fails the commit as a locked store (451 at SMTP); the next one succeeds', async () => {
    const other = openDatabase(env.config.data_dir);
    try {
      other.exec('BEGIN IMMEDIATE');
      const err = await committer.commit([row()]).then(() => undefined, (e: unknown) => e);
      assert.ok(err, 'the commit failed');
      assert.equal(isLockedStoreError(err), true, `locked: ${String(err)}`);
      other.exec('ROLLBACK');
    } finally { other.close(); }
    assert.equal((await committer.commit([row()]))[0]!.duplicate, false);
  });

  it('R6: a thread that dies fails the commit in flight (nothing is acknowledged), leaves the gate open, and the next commit starts another thread', async () => {
    // Killed while it waits at the gate (not inside SQLite: better-sqlite3 aborts the process
    // when its isolate is terminated mid-statement, which is why close() asks the thread to end).
    const processing = writeGate(gate, 0);
    await processing.acquire();
    const lost = row();
    const inFlight = committer.commit([lost]);
    assert.equal(await settled(inFlight, 100), 'pending');
    assert.equal(processing.wanted(), true);
    await committer.kill();
    const err = await inFlight.then(() => undefined, (e: unknown) => e);
    assert.equal(errorCode(err), 'INGEST_COMMIT_THREAD');
    assert.equal(processing.wanted(), false, 'the dead thread\'s wait is cleared, so processing is not held up');
    processing.release();
    const db = openDatabase(env.config.data_dir, { readonly: true });
    try {
      assert.equal(db.prepare('SELECT count(*) FROM intake WHERE message_id = ?').pluck().get(lost.messageId), 0, 'the failed commit stored nothing');
    } finally { db.close(); }
    assert.equal((await committer.commit([row()]))[0]!.duplicate, false);
  });
});
