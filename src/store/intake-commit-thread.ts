import { parentPort, workerData } from 'node:worker_threads';
import { openDatabase } from './db.js';
import { sqliteSql } from './sql-sqlite.js';
import { createIntakeRepo, type NewIntake, type InsertResult } from './intake-repo.js';
import { writeGate } from '../shared/write-gate.js';
import { errorCode, errorMessage } from '../shared/errors.js';
import { isLockedStoreError } from './sql.js';
import type { CommitThreadData, ToCommitThread, FromCommitThread } from './intake-committer.js';

/**
 * serve on SQLite: the intake group commit on a thread of its own (issue 15). Its connection's
 * COMMIT (the WAL write and fsync, R6) and its wait for the write lock block this thread, not
 * the SMTP listener's loop, which meanwhile reads the next messages.
 */
const data = workerData as CommitThreadData;
const port = parentPort!;
const db = openDatabase(data.dataDir, { busyTimeoutMs: data.lockWaitMs });
// Checkpoints are the processing threads' to run (see compose-intake.ts).
db.pragma('wal_autocheckpoint = 0');
const sql = sqliteSql(db);
const intake = createIntakeRepo(sql);
const gate = data.gate ? writeGate(data.gate) : undefined;

// A Buffer arrives as a plain Uint8Array, which better-sqlite3 does not bind as a blob.
const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

async function commit(rows: NewIntake[]): Promise<InsertResult[]> {
  await gate?.enter(data.lockWaitMs);
  try {
    return await sql.tx(async () => {
      const out: InsertResult[] = [];
      for (const row of rows) out.push(await intake.insert(row.rawInline ? { ...row, rawInline: asBuffer(row.rawInline) } : row));
      return out;
    });
  } finally {
    gate?.leave();
  }
}

let queue = Promise.resolve();
port.on('message', (m: ToCommitThread) => {
  if (m.t === 'close') {
    queue = queue.then(() => { db.close(); port.close(); });
    return;
  }
  queue = queue.then(async () => {
    let reply: FromCommitThread;
    try {
      reply = { t: 'done', id: m.id, results: await commit(m.rows) };
    } catch (err) {
      reply = { t: 'error', id: m.id, code: errorCode(err), locked: isLockedStoreError(err), message: errorMessage(err) };
    }
    port.postMessage(reply);
  });
});
port.postMessage({ t: 'ready' } satisfies FromCommitThread);
