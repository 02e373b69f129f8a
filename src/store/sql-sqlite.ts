import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import type { Sql, SqlParams, SqlLock, TxOptions } from './sql.js';
import { DeskgateError, errorMessage } from '../shared/errors.js';

interface TxToken { open: boolean; aborted?: unknown }

/**
 * `Sql` over one better-sqlite3 connection. SQLite runs each statement synchronously, so the only
 * work here is keeping transactions apart: a transaction is connection state, and while one is
 * open (its fn awaiting between statements) a statement from another async flow would land in
 * it. So a transaction holds a mutex, statements from its own async context run directly, and
 * everyone else waits until it commits or rolls back.
 */
export function sqliteSql(db: Database.Database): Sql {
  const statements = new Map<string, Database.Statement>();
  const plucked = new Map<string, Database.Statement>();
  const context = new AsyncLocalStorage<TxToken>();
  let active: { token: TxToken; done: Promise<void> } | undefined;

  const prepare = (text: string, pluck: boolean): Database.Statement => {
    const cache = pluck ? plucked : statements;
    let s = cache.get(text);
    if (!s) {
      s = db.prepare(text);
      if (pluck) s.pluck();
      cache.set(text, s);
    }
    return s;
  };
  const bind = (params: SqlParams | undefined): unknown[] => (params === undefined ? [] : Array.isArray(params) ? params : [params]);
  const mine = (): boolean => active !== undefined && context.getStore() === active.token && active.token.open;

  // Waiting for another flow's transaction is written inline (`while (...) await active.done`)
  // wherever it is needed: the check and what follows it must run in one synchronous step, or a
  // transaction could begin between them (FIFO: waiters wake in the order they came).
  async function statement<T>(work: () => T): Promise<T> {
    while (active && !mine()) await active.done;
    if (active && mine() && active.token.aborted !== undefined) throw aborted(active.token.aborted);
    return work();
  }

  let savepoints = 0;
  /** A transaction inside a transaction: rolled back alone when its fn throws. */
  async function savepoint<T>(fn: () => Promise<T>): Promise<T> {
    const name = `sp${++savepoints}`;
    db.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn();
      db.exec(`RELEASE ${name}`);
      return result;
    } catch (err) {
      if (db.inTransaction) {
        db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
        throw err;
      }
      // SQLite rolled the whole transaction back by itself (disk full, I/O error): nothing after
      // this may run in autocommit as if the transaction were still there.
      const token = context.getStore();
      if (token) token.aborted = err;
      throw aborted(err);
    }
  }
  const aborted = (cause: unknown) => new DeskgateError('STORE_TX_ABORTED', `the database rolled the transaction back: ${errorMessage(cause)}`, { cause });

  const sql: Sql = {
    dialect: 'sqlite',
    all: <T>(text: string, params?: SqlParams) => statement(() => prepare(text, false).all(...bind(params)) as T[]),
    get: <T>(text: string, params?: SqlParams) => statement(() => prepare(text, false).get(...bind(params)) as T | undefined),
    column: <T>(text: string, params?: SqlParams) => statement(() => prepare(text, true).all(...bind(params)) as T[]),
    value: <T>(text: string, params?: SqlParams) => statement(() => prepare(text, true).get(...bind(params)) as T | undefined),
    run: (text: string, params?: SqlParams) => statement(() => prepare(text, false).run(...bind(params)).changes),
    exec: (text: string) => statement(() => { db.exec(text); }),
    get inTransaction() { return mine(); },
    async tx<T>(fn: () => Promise<T>, opts: TxOptions = {}): Promise<T> {
      if (mine()) return savepoint(fn);
      while (active && !mine()) await active.done;
      const token: TxToken = { open: true };
      let finish!: () => void;
      active = { token, done: new Promise<void>((r) => { finish = r; }) };
      try {
        // IMMEDIATE for writes: take the write lock up front, so two writers wait for each
        // other at BEGIN (busy_timeout) instead of one failing at its first write.
        // A read-only store (query_only) may write inside a dry run, which is always rolled back.
        const readOnlyStore = opts.rollback === true && db.pragma('query_only', { simple: true }) === 1;
        if (readOnlyStore) db.pragma('query_only = OFF');
        db.exec(opts.readOnly ? 'BEGIN' : 'BEGIN IMMEDIATE');
        try {
          const result = await context.run(token, fn);
          if (token.aborted !== undefined || !db.inTransaction) throw aborted(token.aborted ?? new Error('no transaction at commit'));
          db.exec(opts.rollback ? 'ROLLBACK' : 'COMMIT');
          return result;
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        } finally {
          if (readOnlyStore) db.pragma('query_only = ON');
        }
      } finally {
        token.open = false;
        active = undefined;
        finish();
      }
    },
    // One process per SQLite file (the CLI never runs pollers or automations): always granted.
    async tryLock(): Promise<SqlLock> {
      let held = true;
      return { get held() { return held; }, async release() { held = false; } };
    },
    async close(): Promise<void> {
      while (active) await active.done;
      db.close();
    },
  };
  return sql;
}
