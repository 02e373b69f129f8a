import { randomUUID } from 'node:crypto';
import { DeskgateError } from '../shared/errors.js';
import type { PgSql } from './sql-postgres.js';

/** Rows of blob_chunks: large enough that a 20 MB message is 80 inserts, small enough to hold one. */
export const BLOB_CHUNK = 256 * 1024;

export interface BlobWriter {
  readonly key: string;
  write(chunk: Buffer): Promise<void>;
  /** Stores what is still buffered and marks the blob complete (readable). */
  finish(): Promise<{ key: string; size: number }>;
  /** Removes everything written so far. */
  abort(): Promise<void>;
  /** Stores what is still buffered without marking the blob complete; returns the chunks written. */
  flush(): Promise<number>;
}

export interface PgBlobStore {
  writer(opts?: { key?: string }): Promise<BlobWriter>;
  /** Content-addressed bytes (attachments by sha256): a no-op when the key is stored already. */
  put(key: string, bytes: Buffer): Promise<void>;
  /**
   * The same, streamed: one chunk in memory at a time, whatever the size. `open` is called only
   * when the key is not stored yet, and what it opened is destroyed afterwards.
   */
  putStream(key: string, open: () => AsyncIterable<Buffer | Uint8Array>): Promise<void>;
  has(key: string): Promise<boolean>;
  read(key: string): Promise<Buffer>;
  /** The bytes one chunk at a time: at most one chunk in memory. */
  stream(key: string): AsyncIterable<Buffer>;
  remove(key: string): Promise<void>;
  /** Deletes incomplete blobs created before `before` (ISO time): writers a crash interrupted. */
  sweepIncomplete(before: string): Promise<number>;
}

function missing(key: string): DeskgateError {
  return new DeskgateError('STORE_BLOB_MISSING', `no stored bytes for ${key}`, { context: { key } });
}

/**
 * Message and attachment bytes in PostgreSQL (blobs + blob_chunks), so every node reads what
 * any node received. Writes run outside the caller's transaction: each chunk commits on its
 * own, so the bytes are durable before the intake row that names them commits (R6).
 */
export function createPgBlobStore(sql: PgSql): PgBlobStore {
  const out = <T>(fn: () => Promise<T>): Promise<T> => sql.outsideTx(fn);
  const insertChunk = (key: string, seq: number, data: Buffer): Promise<number> =>
    sql.run('INSERT INTO blob_chunks (blob_key, seq, data) VALUES (?, ?, ?)', [key, seq, data]);

  async function writer(opts: { key?: string } = {}): Promise<BlobWriter> {
    const key = opts.key ?? `raw/${new Date().toISOString().slice(0, 10)}/${randomUUID()}`;
    await out(() => sql.run('INSERT INTO blobs (key, created_at) VALUES (?, ?)', [key, new Date().toISOString()]));
    let pending: Buffer[] = [];
    let pendingSize = 0;
    let seq = 0;
    let size = 0;
    let state: 'open' | 'finished' | 'aborted' = 'open';
    const flush = async (all: boolean): Promise<void> => {
      while (pendingSize >= BLOB_CHUNK || (all && pendingSize > 0)) {
        const joined = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingSize);
        const take = Math.min(BLOB_CHUNK, joined.length);
        const chunk = joined.subarray(0, take);
        const rest = joined.subarray(take);
        pending = rest.length > 0 ? [rest] : [];
        pendingSize = rest.length;
        await out(() => insertChunk(key, seq, chunk));
        seq++;
      }
    };
    const open = (): void => {
      if (state !== 'open') throw new DeskgateError('STORE_BLOB_CLOSED', `blob ${key} is ${state}`, { context: { key } });
    };
    // Calls run one after another even when a caller does not await each write.
    let last: Promise<unknown> = Promise.resolve();
    const serial = <T>(fn: () => Promise<T>): Promise<T> => {
      const next = last.then(fn, fn);
      last = next.catch(() => {});
      return next;
    };
    return {
      key,
      write: (chunk: Buffer) => serial(async () => {
        open();
        if (chunk.length === 0) return;
        pending.push(chunk);
        pendingSize += chunk.length;
        size += chunk.length;
        await flush(false);
      }),
      finish: () => serial(async () => {
        open();
        await flush(true);
        await out(() => sql.run('UPDATE blobs SET size = ?, chunks = ?, complete = 1 WHERE key = ?', [size, seq, key]));
        state = 'finished';
        return { key, size };
      }),
      flush: () => serial(async () => {
        open();
        await flush(true);
        return seq;
      }),
      abort: () => serial(async () => {
        if (state === 'aborted') return;
        state = 'aborted';
        pending = [];
        await out(() => sql.run('DELETE FROM blobs WHERE key = ?', [key]));
      }),
    };
  }

  async function put(key: string, bytes: Buffer): Promise<void> {
    // One transaction of its own: a concurrent put of the same key waits on the row, then does nothing.
    await out(() => sql.tx(async () => {
      const chunks = Math.ceil(bytes.length / BLOB_CHUNK);
      const inserted = await sql.run('INSERT INTO blobs (key, size, chunks, complete, created_at) VALUES (?, ?, ?, 1, ?) ON CONFLICT (key) DO NOTHING',
        [key, bytes.length, chunks, new Date().toISOString()]);
      if (inserted === 0) return;
      for (let seq = 0; seq < chunks; seq++) await insertChunk(key, seq, bytes.subarray(seq * BLOB_CHUNK, (seq + 1) * BLOB_CHUNK));
    }));
  }

  /**
   * Chunks go in under a key of their own (an incomplete blob, swept if this node dies), then
   * one transaction moves them to `key` or, when another node stored the content meanwhile,
   * drops them: content-addressed, so either copy is the same bytes.
   */
  async function putStream(key: string, open: () => AsyncIterable<Buffer | Uint8Array>): Promise<void> {
    if (await out(() => has(key))) return;
    const w = await writer({ key: `incoming/${randomUUID()}` });
    let size = 0;
    const content = open();
    try {
      for await (const c of content) { size += c.length; await w.write(Buffer.isBuffer(c) ? c : Buffer.from(c)); }
      const chunks = await w.flush();
      await out(() => sql.tx(async () => {
        const inserted = await sql.run('INSERT INTO blobs (key, size, chunks, complete, created_at) VALUES (?, ?, ?, 1, ?) ON CONFLICT (key) DO NOTHING',
          [key, size, chunks, new Date().toISOString()]);
        if (inserted === 1) await sql.run('UPDATE blob_chunks SET blob_key = ? WHERE blob_key = ?', [key, w.key]);
        await sql.run('DELETE FROM blobs WHERE key = ?', [w.key]);
      }));
    } catch (err) {
      await w.abort().catch(() => {});
      throw err;
    } finally {
      // A file stream left open would keep a removed scratch file's space.
      (content as { destroy?: () => void }).destroy?.();
    }
  }

  const has = async (key: string) => (await sql.value<number>('SELECT complete FROM blobs WHERE key = ?', [key])) === 1;

  async function header(key: string): Promise<{ size: number; chunks: number }> {
    const row = await sql.get<{ size: number; chunks: number }>('SELECT size, chunks FROM blobs WHERE key = ? AND complete = 1', [key]);
    if (!row) throw missing(key);
    return row;
  }

  async function* stream(key: string): AsyncIterable<Buffer> {
    const { chunks } = await header(key);
    for (let seq = 0; seq < chunks; seq++) {
      const data = await sql.value<Buffer>('SELECT data FROM blob_chunks WHERE blob_key = ? AND seq = ?', [key, seq]);
      if (data === undefined) throw missing(`${key} (chunk ${seq})`);
      yield data;
    }
  }

  return {
    writer,
    put,
    putStream,
    has,
    async read(key) {
      const { size } = await header(key);
      const parts: Buffer[] = [];
      for await (const part of stream(key)) parts.push(part);
      return Buffer.concat(parts, size);
    },
    stream,
    // Joins the caller's transaction: the bytes go with whatever stopped naming them.
    remove: async (key) => { await sql.run('DELETE FROM blobs WHERE key = ?', [key]); },
    sweepIncomplete: (before) => sql.run('DELETE FROM blobs WHERE complete = 0 AND created_at < ?', [before]),
  };
}
