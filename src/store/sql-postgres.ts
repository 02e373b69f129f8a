import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { DeskgateError, errorMessage } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { lockKey, type Sql, type SqlLock, type SqlParams, type TxOptions } from './sql.js';
import { bindValues, snippet, translatePlaceholders, type PgStatement } from './pg-placeholders.js';

export interface PgOptions {
  poolSize?: number;
  logger?: Logger;
  applicationName?: string;
  /** How long a statement waits for a connection (a new one, or a free one of the pool). */
  connectTimeoutMs?: number;
}

/** A PostgreSQL Sql; `outsideTx` runs work on the pool even when called inside a transaction. */
export interface PgSql extends Sql {
  readonly dialect: 'postgres';
  /** For bytes that must be durable before the transaction that names them commits (blobs). */
  outsideTx<T>(fn: () => Promise<T>): Promise<T>;
}

/** SQLSTATEs after which the whole transaction is run again. */
const RETRIED = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 5;
/** A prepared SELECT * whose table gained a column since (a node upgraded the schema). */
const STALE_PLAN = '0A000';
const STATEMENT_CACHE = 2000;
const LOCK_HEARTBEAT_MS = 15_000;

/**
 * Per-pool parsers (the global pg.types stays untouched): counts and ids as numbers, booleans
 * as 1/0 like SQLite, so repositories compare `=== 1` on both backends. bytea stays a Buffer.
 */
const parsers: Record<number, (v: string) => unknown> = {
  20: Number, // int8: count(*), BIGINT ids
  1700: Number, // numeric: sum() of integers
  16: (v) => (v === 't' ? 1 : 0),
};
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    (format ?? 'text') === 'text' && parsers[oid] ? parsers[oid] : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** The URL with its password replaced, for messages and logs. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const k of [...u.searchParams.keys()]) if (/pass/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

const NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/** The SQLSTATE (or Node code) of an error or of any error it wraps. */
export function sqlState(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const ctx = (e as { context?: { sqlstate?: unknown } }).context;
    if (typeof ctx?.sqlstate === 'string') return ctx.sqlstate;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

function connectionTrouble(err: unknown): 'unreachable' | 'auth' | 'database' | undefined {
  const code = (err as { code?: unknown })?.code;
  const state = sqlState(err);
  if (state === '28P01' || state === '28000') return 'auth';
  if (state === '3D000') return 'database';
  if (typeof code === 'string' && NETWORK.has(code)) return 'unreachable';
  if (state?.startsWith('08') || state === '57P01' || state === '57P02' || state === '57P03') return 'unreachable';
  const msg = errorMessage(err);
  if (/timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|is not queryable/i.test(msg)) return 'unreachable';
  return undefined;
}

/** Where the pool connects, without the password. */
function where(url: string): Record<string, unknown> {
  const masked = maskUrl(url);
  try {
    const u = new URL(url);
    return { url: masked, host: u.hostname, port: u.port || '5432', database: decodeURIComponent(u.pathname.slice(1)), user: decodeURIComponent(u.username) };
  } catch {
    return { url: masked };
  }
}

/** A driver error as an admin reads it; the URL's password is never in the message or context. */
function storeError(err: unknown, url: string, statement?: string): unknown {
  if (err instanceof DeskgateError) return err;
  const ctx = where(url);
  const password = (() => { try { return decodeURIComponent(new URL(url).password); } catch { return ''; } })();
  const scrub = (s: string): string => (password ? s.split(password).join('***') : s);
  const msg = scrub(errorMessage(err));
  const trouble = connectionTrouble(err);
  const target = `${String(ctx.host ?? '?')}:${String(ctx.port ?? '?')}`;
  if (trouble === 'unreachable') return new DeskgateError('STORE_UNREACHABLE', `cannot reach PostgreSQL at ${target} (${msg}): is the server running and store.url right?`, { cause: err, context: { ...ctx, sqlstate: sqlState(err) } });
  if (trouble === 'auth') return new DeskgateError('STORE_AUTH_FAILED', `PostgreSQL at ${target} refused user ${String(ctx.user)} (${msg}): check the user and password in store.url and pg_hba.conf`, { cause: err, context: { ...ctx, sqlstate: sqlState(err) } });
  if (trouble === 'database') return new DeskgateError('STORE_NO_DATABASE', `PostgreSQL at ${target} has no database ${String(ctx.database)}: create it (createdb) or fix store.url`, { cause: err, context: { ...ctx, sqlstate: sqlState(err) } });
  const state = sqlState(err);
  if (statement === undefined || state === undefined) return err;
  return new DeskgateError('STORE_QUERY_FAILED', `${msg} [SQLSTATE ${state}] in: ${snippet(statement)}`, { cause: err, context: { sqlstate: state, statement: snippet(statement) } });
}

interface TxStore { client: pg.PoolClient; done: boolean }

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class PostgresSql implements PgSql {
  readonly dialect = 'postgres' as const;
  private readonly als = new AsyncLocalStorage<TxStore>();
  private readonly statements = new Map<string, PgStatement & { uses: number; named: boolean }>();
  private readonly locks = new Set<pg.Client>();

  constructor(private readonly pool: pg.Pool, private readonly config: pg.ClientConfig, private readonly url: string, private readonly log: Logger) {}

  get inTransaction(): boolean {
    const s = this.als.getStore();
    return s !== undefined && !s.done;
  }

  private statement(text: string): PgStatement & { uses: number; named: boolean } {
    let st = this.statements.get(text);
    if (!st) {
      if (this.statements.size >= STATEMENT_CACHE) this.statements.delete(this.statements.keys().next().value!);
      st = { ...translatePlaceholders(text), uses: 0, named: true };
      this.statements.set(text, st);
    }
    st.uses++;
    return st;
  }

  /** Inside a running tx (this async context) its client, else the pool. */
  private runner(): pg.Pool | pg.PoolClient {
    const s = this.als.getStore();
    // A callback that outlived its transaction (a timer started inside it) uses the pool.
    return s && !s.done ? s.client : this.pool;
  }

  private async query(text: string, params: SqlParams | undefined, rowMode?: 'array'): Promise<pg.QueryResult> {
    const st = this.statement(text);
    const values = bindValues(st, params, text);
    const runner = this.runner();
    // Only statements seen twice get a name: one-off texts would fill every connection's cache.
    const cfg = { text: st.text, values, ...(st.named && st.uses > 1 ? { name: st.name } : {}), ...(rowMode ? { rowMode } : {}) };
    try {
      return await runner.query(cfg as pg.QueryConfig);
    } catch (err) {
      if (sqlState(err) === STALE_PLAN && /cached plan/i.test(errorMessage(err)) && 'name' in cfg) {
        st.named = false;
        if (runner === this.pool) return this.query(text, params, rowMode).catch((e) => { throw this.fail(e, text); });
      }
      throw this.fail(err, text);
    }
  }

  async all<T>(text: string, params?: SqlParams): Promise<T[]> {
    return (await this.query(text, params)).rows as T[];
  }

  async get<T>(text: string, params?: SqlParams): Promise<T | undefined> {
    return (await this.query(text, params)).rows[0] as T | undefined;
  }

  async column<T>(text: string, params?: SqlParams): Promise<T[]> {
    return (await this.query(text, params, 'array')).rows.map((r) => (r as unknown[])[0] as T);
  }

  async value<T>(text: string, params?: SqlParams): Promise<T | undefined> {
    const row = (await this.query(text, params, 'array')).rows[0] as unknown[] | undefined;
    return row?.[0] as T | undefined;
  }

  async run(text: string, params?: SqlParams): Promise<number> {
    return (await this.query(text, params)).rowCount ?? 0;
  }

  async exec(text: string): Promise<void> {
    try {
      await this.runner().query(text); // no values: the simple protocol, several statements allowed
    } catch (err) {
      throw this.fail(err, text);
    }
  }

  /**
   * pg-pool says "timeout exceeded when trying to connect" both when the server does not answer
   * and when every connection of a full pool stayed busy: only the first is STORE_UNREACHABLE.
   */
  private fail(err: unknown, statement?: string): unknown {
    const max = (this.pool.options as { max?: number }).max ?? 10;
    if (/timeout exceeded when trying to connect/i.test(errorMessage(err)) && this.pool.totalCount >= max && this.pool.idleCount === 0) {
      return new DeskgateError('STORE_POOL_BUSY', `all ${max} PostgreSQL connections stayed busy while a statement waited for one: raise store.pool_size or look for long transactions`,
        { cause: err, context: { pool_size: max, waiting: this.pool.waitingCount, ...(statement ? { statement: snippet(statement) } : {}) } });
    }
    return storeError(err, this.url, statement);
  }

  outsideTx<T>(fn: () => Promise<T>): Promise<T> {
    return this.als.exit(fn);
  }

  async tx<T>(fn: () => Promise<T>, opts: TxOptions = {}): Promise<T> {
    if (this.inTransaction) return this.savepoint(fn);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.txOnce(fn, opts);
      } catch (err) {
        const state = sqlState(err);
        const stale = state === STALE_PLAN && /cached plan/i.test(errorMessage(err));
        if (!(state && RETRIED.has(state)) && !stale) throw err;
        if (attempt >= MAX_ATTEMPTS) throw err;
        // Jittered, growing back-off so two transactions that deadlocked do not collide again.
        const delayMs = Math.round((10 * 2 ** attempt) * (0.5 + Math.random()));
        this.log.warn({ code: state, attempt, delayMs }, 'store: transaction retried');
        await sleep(delayMs);
      }
    }
  }

  private savepoints = 0;

  /** A transaction inside a transaction: its own work is rolled back alone when fn throws. */
  private async savepoint<T>(fn: () => Promise<T>): Promise<T> {
    const { client } = this.als.getStore()!;
    const name = `sp${++this.savepoints}`;
    const control = (text: string): Promise<pg.QueryResult> => client.query(text).catch((err) => { throw storeError(err, this.url, text); });
    await control(`SAVEPOINT ${name}`);
    try {
      const result = await fn();
      await control(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      // A lost connection cannot roll back to anything: the outer transaction fails with the error.
      await client.query(`ROLLBACK TO SAVEPOINT ${name}`).then(() => client.query(`RELEASE SAVEPOINT ${name}`)).catch(() => {});
      throw err;
    }
  }

  private async txOnce<T>(fn: () => Promise<T>, opts: TxOptions): Promise<T> {
    const client = await this.pool.connect().catch((err) => { throw this.fail(err); });
    let broken: Error | undefined;
    // A checked-out client has no pool listener: without this, a dropped connection would crash.
    const onError = (err: Error): void => {
      broken = err;
      this.log.warn({ err }, 'store: PostgreSQL connection failed inside a transaction');
    };
    client.on('error', onError);
    const store: TxStore = { client, done: false };
    // fn's own errors pass unchanged (its statements' errors are mapped already); BEGIN's and COMMIT's are mapped here.
    const control = (text: string): Promise<pg.QueryResult> => client.query(text).catch((err) => { throw storeError(err, this.url, text); });
    try {
      await control(opts.readOnly ? 'BEGIN READ ONLY' : 'BEGIN');
      const result = await this.als.run(store, fn);
      // A dry run (explain) keeps nothing, whatever fn wrote.
      if (opts.rollback) {
        await control('ROLLBACK');
        return result;
      }
      const commit = await control('COMMIT');
      // COMMIT of a transaction a swallowed error aborted answers ROLLBACK instead of failing.
      if (commit.command === 'ROLLBACK') throw new DeskgateError('STORE_TX_ABORTED', 'the transaction was rolled back: a statement in it failed and its error was caught');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => { broken ??= e; });
      throw err;
    } finally {
      store.done = true;
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  async tryLock(name: string): Promise<SqlLock | undefined> {
    const client = new pg.Client(this.config);
    let held = false;
    let timer: NodeJS.Timeout | undefined;
    const lost = (why: string, err?: unknown): void => {
      if (held) this.log.warn({ err, lock: name }, `store: lock lost (${why})`);
      held = false;
      if (timer) clearInterval(timer);
      this.locks.delete(client);
    };
    client.on('error', (err) => lost('connection error', err));
    client.on('end', () => lost('connection ended'));
    this.locks.add(client);
    try {
      await client.connect();
      // The server notices a dead holder (machine gone, not just the process) within ~30 s.
      await client.query('SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3');
      const key = lockKey(name).toString();
      const r = await client.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
      if (r.rows[0]?.ok !== 1) {
        this.locks.delete(client);
        await client.end();
        return undefined;
      }
      held = true;
      // The client side of the same question: a silent network loses the lock here too.
      timer = setInterval(() => {
        client.query({ text: 'SELECT 1', query_timeout: 10_000 } as pg.QueryConfig).catch((err: unknown) => {
          lost('heartbeat failed', err);
          void client.end().catch(() => {});
        });
      }, LOCK_HEARTBEAT_MS);
      timer.unref();
      return {
        get held() { return held; },
        release: async () => {
          const was = held;
          held = false;
          if (timer) clearInterval(timer);
          this.locks.delete(client);
          if (was) await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]).catch(() => {});
          await client.end().catch(() => {});
        },
      };
    } catch (err) {
      this.locks.delete(client);
      await client.end().catch(() => {});
      throw storeError(err, this.url);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.locks].map((c) => c.end().catch(() => {})));
    this.locks.clear();
    await this.pool.end();
  }
}

/**
 * A pool on store.url. Fails with STORE_UNREACHABLE / STORE_AUTH_FAILED / STORE_NO_DATABASE
 * when the first connection does, so `serve` stops with a reason instead of retrying blind.
 */
export async function openPostgres(url: string, opts: PgOptions = {}): Promise<PgSql> {
  const log = opts.logger ?? silentLogger();
  const config: pg.ClientConfig = {
    connectionString: url,
    types,
    application_name: opts.applicationName ?? 'deskgate',
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    keepAlive: true,
  };
  const pool = new pg.Pool({ ...config, max: opts.poolSize ?? 10, idleTimeoutMillis: 30_000 });
  pool.on('error', (err) => log.warn({ err, store: maskUrl(url) }, 'store: idle PostgreSQL connection failed'));
  try {
    const c = await pool.connect();
    c.release();
  } catch (err) {
    await pool.end().catch(() => {});
    throw storeError(err, url);
  }
  return new PostgresSql(pool, config, url, log);
}
