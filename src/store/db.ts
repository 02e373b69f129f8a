import Database from 'better-sqlite3';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { migrations } from './migrations/index.js';
import { DeskgateError } from '../shared/errors.js';

export type Db = Database.Database;

/**
 * Opens the SQLite database in data_dir with the settings durability needs (R6):
 * WAL so readers (the CLI) never block the daemon, synchronous=FULL so a commit is on disk
 * when it returns, and a busy timeout so a CLI write and the daemon wait for each other
 * instead of failing.
 */
export function openDatabase(dataDir: string, opts: { readonly?: boolean; busyTimeoutMs?: number; onMigrated?: (versions: number[]) => void } = {}): Db {
  if (opts.readonly) return openReadOnly(dataDir, opts.busyTimeoutMs);
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(databaseFile(dataDir));
  db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  const applied = migrate(db);
  opts.onMigrated?.(applied);
  return db;
}

export function databaseFile(dataDir: string): string {
  return join(dataDir, 'deskgate.sqlite');
}

/**
 * For commands that only read: never creates data_dir, never migrates, never writes. Without
 * a database yet, an empty in-memory one with the current schema (so lists are empty); a
 * database that still needs a migration is refused, since migrating is a write.
 */
function openReadOnly(dataDir: string, busyTimeoutMs = 10_000): Db {
  const file = databaseFile(dataDir);
  if (!existsSync(file)) {
    const empty = new Database(':memory:');
    migrate(empty);
    return empty;
  }
  // query_only rather than SQLITE_OPEN_READONLY: SQLite refuses every write all the same, and
  // when this is the last connection it removes the -wal/-shm files it made instead of leaving them.
  const db = new Database(file, { fileMustExist: true });
  db.pragma('query_only = ON');
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  const applied = new Set(hasTable ? db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[] : []);
  const pending = migrations.filter((m) => !applied.has(m.version)).map((m) => m.version);
  if (pending.length > 0) {
    db.close();
    throw new DeskgateError('STORE_SCHEMA_OLD', `${file} needs migration ${pending.join(', ')}: run deskgate serve (or any command that writes) once to upgrade it`, { context: { file, pending } });
  }
  return db;
}


/** Applies the pending migrations; returns the versions this call applied. */
function migrate(db: Db): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  const done: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    // IMMEDIATE: two processes opening a fresh database at once must not both migrate.
    const ran = db.transaction(() => {
      const again = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version);
      if (again) return false;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
      return true;
    }).immediate();
    if (ran) done.push(m.version);
  }
  return done;
}
