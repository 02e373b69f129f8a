/**
 * The one seam between the repositories and a database engine. Repositories write their SQL once
 * (placeholders `?` or `@name`, ISO-8601 text times, JSON text columns, 0/1 flags) and run it
 * through a `Sql`; SQLite (better-sqlite3, embedded default) and PostgreSQL (pg, several nodes)
 * each implement it. Nothing above src/store sees which one it is.
 */
export type Dialect = 'sqlite' | 'postgres';

/** Positional values for `?`, or named values for `@name` (never both in one statement). */
export type SqlParams = readonly unknown[] | Readonly<Record<string, unknown>>;

export type SqlRow = Record<string, unknown>;

export interface Sql {
  readonly dialect: Dialect;
  /** Every row. */
  all<T = SqlRow>(text: string, params?: SqlParams): Promise<T[]>;
  /** The first row, or undefined. */
  get<T = SqlRow>(text: string, params?: SqlParams): Promise<T | undefined>;
  /** The first column of every row (SQLite's pluck). */
  column<T = unknown>(text: string, params?: SqlParams): Promise<T[]>;
  /** The first column of the first row, or undefined. */
  value<T = unknown>(text: string, params?: SqlParams): Promise<T | undefined>;
  /** Runs a statement; returns how many rows it changed. */
  run(text: string, params?: SqlParams): Promise<number>;
  /** Runs several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
  /**
   * Runs `fn` in one transaction; every statement issued through this Sql from inside `fn` (in
   * its async context) is part of it, and statements from elsewhere wait or use another
   * connection. A transaction inside a transaction is a savepoint: when its fn throws, only its
   * own statements are rolled back and the error goes on to the caller. A write transaction
   * (SQLite: BEGIN IMMEDIATE) is retried on PostgreSQL serialization failures and deadlocks,
   * so `fn` must not have effects outside the database that a retry would repeat.
   */
  tx<T>(fn: () => Promise<T>, opts?: TxOptions): Promise<T>;
  /** True inside tx(). */
  readonly inTransaction: boolean;
  /**
   * A lock across every node on the database, held until release() (PostgreSQL: a session-level
   * advisory lock on its own connection, so it ends when the holder dies). Resolves to undefined
   * when someone else holds it. SQLite has one process per database file in practice: always granted.
   */
  tryLock(name: string): Promise<SqlLock | undefined>;
  close(): Promise<void>;
}

export interface TxOptions {
  readOnly?: boolean;
  /**
   * Always roll back, even when fn returns (explain's dry run: the real write path, nothing
   * kept). Allowed on a read-only store: its writes never outlive the transaction.
   */
  rollback?: boolean;
}

export interface SqlLock {
  /** False once the lock was lost (its connection died); the holder must stop what it guards. */
  readonly held: boolean;
  release(): Promise<void>;
}

/** 64-bit advisory lock key for a lock name (stable across nodes and versions). */
export function lockKey(name: string): bigint {
  // FNV-1a 64: no crypto needed, only a stable spread of names over the key space.
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(`deskgate:${name}`)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return BigInt.asIntN(64, h);
}

const TRANSIENT_PG = new Set([
  '40001', '40P01', // serialization failure, deadlock: the transaction may simply run again
  '57P01', '57P02', '57P03', // the server is shutting down or starting
  '08000', '08001', '08003', '08004', '08006', // connection failures
  '53300', // too many connections
]);

/**
 * A database error that says nothing about the message being processed (busy, locked, a lost
 * connection, a deadlock): the work goes back to the queue and is tried again, never kept as a
 * failed message (R8).
 */
export function isTransientStoreError(err: unknown): boolean {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code;
    const state = (e as { context?: { sqlstate?: unknown } }).context?.sqlstate;
    if (typeof state === 'string' && TRANSIENT_PG.has(state)) return true;
    if (typeof code === 'string' && (/^SQLITE_(BUSY|LOCKED|FULL|IOERR)/.test(code) || TRANSIENT_PG.has(code) || TRANSIENT_CODES.has(code))) return true;
    if (e instanceof Error && /Connection terminated|connection timeout|Client has encountered a connection error/i.test(e.message)) return true;
  }
  return false;
}

/** SQLite's write lock is held by another connection (SQLITE_BUSY, SQLITE_LOCKED), directly or as a cause. */
export function isLockedStoreError(err: unknown): boolean {
  return causes(err).some((e) => { const code = (e as { code?: unknown }).code; return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code); });
}

/** An error and its causes: the store wraps driver errors (STORE_QUERY_FAILED with context.sqlstate, or a cause). */
function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) out.push(e);
  return out;
}

const TRANSIENT_CODES = new Set([
  'STORE_UNREACHABLE', 'STORE_POOL_BUSY', 'STORE_CLAIM_LOST',
  // The database aborted the transaction by itself (SQLite after a full disk): the batch runs again.
  'STORE_TX_ABORTED',
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE',
]);
