import { postgresMigrations } from './migrations/postgres.js';
import { lockKey, type Sql } from './sql.js';

/** One key for every node and every version: migrations run one at a time cluster-wide. */
const MIGRATE_LOCK = lockKey('migrate').toString();

const CREATE_TABLE = 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)';

async function appliedVersions(sql: Sql): Promise<Set<number>> {
  const exists = await sql.value<number>("SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0 ELSE 1 END");
  if (exists !== 1) return new Set();
  return new Set(await sql.column<number>('SELECT version FROM schema_migrations'));
}

/**
 * Brings a PostgreSQL database to the current schema; returns the versions this call applied.
 * Each migration is one transaction that first takes a transaction-level advisory lock and
 * re-checks its version, so two nodes starting at once apply each version once (the loser
 * waits, then finds it done). DDL is transactional here: a failed migration leaves nothing.
 */
export async function migratePostgres(sql: Sql): Promise<number[]> {
  // CREATE TABLE IF NOT EXISTS is not safe against a concurrent one: under the lock too.
  await sql.tx(async () => {
    await sql.run('SELECT pg_advisory_xact_lock(?::bigint)', [MIGRATE_LOCK]);
    await sql.exec(CREATE_TABLE);
  });
  const done: number[] = [];
  const applied = await appliedVersions(sql);
  for (const m of postgresMigrations) {
    if (applied.has(m.version)) continue;
    const ran = await sql.tx(async () => {
      await sql.run('SELECT pg_advisory_xact_lock(?::bigint)', [MIGRATE_LOCK]);
      const again = await sql.value('SELECT 1 FROM schema_migrations WHERE version = ?', [m.version]);
      if (again !== undefined) return false;
      await sql.exec(m.sql);
      await sql.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, new Date().toISOString()]);
      return true;
    });
    if (ran) done.push(m.version);
  }
  return done;
}

/** Versions not yet applied, without writing anything (read-only commands refuse an old schema). */
export async function pendingPostgresMigrations(sql: Sql): Promise<number[]> {
  const applied = await appliedVersions(sql);
  return postgresMigrations.filter((m) => !applied.has(m.version)).map((m) => m.version);
}
