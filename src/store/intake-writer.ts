import { isLockedStoreError, type Sql } from './sql.js';
import type { IntakeRepo, NewIntake, InsertResult } from './intake-repo.js';
import type { RawStore } from './raw-store.js';

interface Pending {
  row: NewIntake;
  dirs: string[];
  resolve: (r: InsertResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit for intake (R6 at throughput): messages whose raw file is already fsynced wait
 * here; one flush fsyncs their directories once and commits all their intake rows in one
 * transaction, then answers each. While a flush runs the next batch gathers, so under load
 * one fsync serves many messages and an idle server still answers at once.
 */
export function createIntakeWriter(deps: {
  sql: Sql; intake: IntakeRepo; raw: RawStore;
  /** After each commit, with the number of new (not duplicate) messages in it. */
  onCommitted?: (added: number) => void;
  maxBatch?: number;
  /**
   * SQLite with processing threads: how long a commit retries a locked database, a few ms at a
   * time, before its messages are refused (451). The listener's connection has a short
   * busy_timeout, so this wait happens off the event loop and sessions keep being greeted.
   */
  lockWaitMs?: number;
  /** serve on SQLite: tells the processing threads an intake commit waits (shared/write-gate.ts). */
  gate?: { enter(): Promise<void>; leave(): void };
}) {
  const maxBatch = deps.maxBatch ?? 256;
  let queue: Pending[] = [];
  let running = false;

  const insertAll = (batch: Pending[]) => deps.sql.tx(async () => {
    const out: InsertResult[] = [];
    for (const p of batch) out.push(await deps.intake.insert(p.row));
    return out;
  });

  async function withLockWait<T>(fn: () => Promise<T>): Promise<T> {
    const until = Date.now() + (deps.lockWaitMs ?? 0);
    for (let pause = 2; ; pause = Math.min(50, pause * 2)) {
      try {
        return await fn();
      } catch (err) {
        if (!isLockedStoreError(err) || Date.now() + pause > until) throw err;
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  async function drain(): Promise<void> {
    running = true;
    try {
      while (queue.length > 0) {
        // Wait for the lock without blocking the event loop: sessions that end their DATA
        // meanwhile join this batch.
        await deps.gate?.enter();
        const batch = queue.slice(0, maxBatch);
        queue = queue.slice(batch.length);
        try {
          let results: InsertResult[];
          try {
            await deps.raw.syncDirs(batch.flatMap((p) => p.dirs));
            results = await withLockWait(() => insertAll(batch));
          } finally {
            deps.gate?.leave();
          }
          batch.forEach((p, i) => p.resolve(results[i]!));
          deps.onCommitted?.(results.filter((r) => !r.duplicate).length);
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      running = false;
    }
  }

  return {
    /** Resolves once the row is committed (or found to be a duplicate); rejects when the commit failed. */
    submit(row: NewIntake, dirs: string[]): Promise<InsertResult> {
      return new Promise((resolve, reject) => {
        queue.push({ row, dirs, resolve, reject });
        if (!running) {
          running = true;
          // setImmediate: let every session whose data ended in this turn of the loop join the batch.
          setImmediate(() => void drain());
        }
      });
    },
    get pending(): number {
      return queue.length;
    },
  };
}

export type IntakeWriter = ReturnType<typeof createIntakeWriter>;
