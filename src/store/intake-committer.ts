import type { Worker } from 'node:worker_threads';
import { startModuleThread } from '../shared/threads.js';
import { DeskgateError } from '../shared/errors.js';
import { clearWaiting } from '../shared/write-gate.js';
import type { NewIntake, InsertResult } from './intake-repo.js';
import type { Logger } from '../shared/logger.js';

export interface CommitThreadData {
  dataDir: string;
  /** busy_timeout of the thread's connection, and the longest wait at the write gate. */
  lockWaitMs: number;
  gate?: SharedArrayBuffer;
}
export type ToCommitThread = { t: 'commit'; id: number; rows: NewIntake[] } | { t: 'close' };
export type FromCommitThread =
  | { t: 'ready' }
  | { t: 'done'; id: number; results: InsertResult[] }
  | { t: 'error'; id: number; code: string; locked: boolean; message: string };

/**
 * The listener's end of the intake commit thread (intake-commit-thread.ts): `commit` hands a
 * group commit's rows over and resolves with their results once they are on disk (R6). A thread
 * that dies fails the commits in flight (their senders get 451 and retry, R6) and is started
 * again by the next commit.
 */
export function createIntakeCommitter(data: CommitThreadData, logger: Logger) {
  let worker: Worker | undefined;
  let nextId = 1;
  const waiting = new Map<number, { resolve: (r: InsertResult[]) => void; reject: (e: unknown) => void }>();

  const failAll = (err: unknown) => {
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };

  function thread(): Worker {
    if (worker) return worker;
    const w = startModuleThread(import.meta.url, 'intake-commit-thread', data);
    w.on('message', (m: FromCommitThread) => {
      if (m.t === 'ready') return;
      const entry = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.t === 'done') entry?.resolve(m.results);
      // The code names the cause (SQLITE_BUSY, STORE_…); `locked` keeps isLockedStoreError true.
      else entry?.reject(new DeskgateError(m.code, m.message, m.locked ? { cause: Object.assign(new Error(m.message), { code: 'SQLITE_BUSY' }) } : {}));
    });
    w.on('error', (err) => {
      logger.error({ event: 'ingest:commit_thread_failed', code: 'INGEST_COMMIT_THREAD', err }, 'the intake commit thread failed; the next commit starts another');
    });
    w.on('exit', () => {
      if (worker === w) worker = undefined;
      if (data.gate) clearWaiting(data.gate); // it may have died between the gate's enter and leave
      failAll(new DeskgateError('INGEST_COMMIT_THREAD', 'the intake commit thread ended before the commit finished'));
    });
    worker = w;
    return w;
  }

  thread(); // at start, so the first message does not wait for the thread to load
  return {
    commit(rows: NewIntake[]): Promise<InsertResult[]> {
      return new Promise((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        thread().postMessage({ t: 'commit', id, rows } satisfies ToCommitThread);
      });
    },
    /** Tests: ends the thread as a crash would (the commits in flight fail). */
    async kill(): Promise<void> {
      await worker?.terminate();
    },
    /** After the last commit: the thread closes its connection and ends. */
    async close(): Promise<void> {
      const w = worker;
      if (!w) return;
      worker = undefined;
      await new Promise<void>((resolve) => {
        w.once('exit', () => resolve());
        w.postMessage({ t: 'close' } satisfies ToCommitThread);
      });
    },
  };
}

export type IntakeCommitter = ReturnType<typeof createIntakeCommitter>;
