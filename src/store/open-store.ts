import type { Config } from '../config/index.js';
import type { Logger } from '../shared/logger.js';
import { openDatabase, type Db } from './db.js';
import { sqliteSql } from './sql-sqlite.js';
import type { Sql } from './sql.js';
import { RawStore } from './raw-store.js';
import { AttachmentStore, type AttachmentSink } from './attachment-store.js';

/** An open store: the SQL seam every repository runs on, and what it is. */
export interface Store {
  sql: Sql;
  backend: Config['store']['backend'];
  /** Where the data is, for messages to admins (a file, or the URL without its password). */
  location: string;
  /** The migrations this open applied (none for a read-only open or a current schema). */
  migrated: number[];
  /** Raw messages too big for their intake row: files in data_dir, or blobs in PostgreSQL. */
  raw: RawStore;
  attachments: AttachmentSink;
  /** PostgreSQL's blob store (raw mail and attachments in the database); absent on SQLite. */
  blobs?: import('./blobs-postgres.js').PgBlobStore;
  /** The SQLite connection itself, for what only SQLite does (online backup); absent on PostgreSQL. */
  sqlite?: Db;
  close(): Promise<void>;
}

/**
 * Opens the configured store and brings its schema up to date (readOnly: never writes, refuses a
 * database that needs a migration). SQLite lives in data_dir; PostgreSQL at store.url.
 */
export async function openStore(config: Pick<Config, 'data_dir' | 'store'>, opts: { readOnly?: boolean; busyTimeoutMs?: number; logger?: Logger } = {}): Promise<Store> {
  if (config.store.backend === 'postgres') {
    const { openPostgresStore } = await import('./open-postgres.js');
    return openPostgresStore(config.store, opts);
  }
  let migrated: number[] = [];
  const db = openDatabase(config.data_dir, { readonly: opts.readOnly ?? false, onMigrated: (v) => { migrated = v; }, ...(opts.busyTimeoutMs !== undefined ? { busyTimeoutMs: opts.busyTimeoutMs } : {}) });
  const sql = sqliteSql(db);
  return { sql, backend: 'sqlite', location: db.name, migrated, sqlite: db, raw: new RawStore(config.data_dir), attachments: new AttachmentStore(config.data_dir), close: () => sql.close() };
}
