import type { Config } from '../config/index.js';
import type { Logger } from '../shared/logger.js';
import { DeskgateError } from '../shared/errors.js';
import type { Store } from './open-store.js';
import { openPostgres, maskUrl } from './sql-postgres.js';
import { migratePostgres, pendingPostgresMigrations } from './migrate-postgres.js';
import { createPgBlobStore } from './blobs-postgres.js';
import { pgSpool, pgAttachments } from './pg-spool.js';
import { RawStore } from './raw-store.js';

/**
 * PostgreSQL (R71): tickets, queues, raw mail and attachments all in one database that every
 * node shares. Migrations run under an advisory lock, so nodes starting together apply each once.
 */
export async function openPostgresStore(store: Config['store'], opts: { readOnly?: boolean; logger?: Logger }): Promise<Store> {
  const url = store.url!;
  const sql = await openPostgres(url, { poolSize: store.pool_size, applicationName: 'deskgate', ...(opts.logger ? { logger: opts.logger } : {}) });
  let migrated: number[] = [];
  try {
    if (opts.readOnly) {
      const pending = await pendingPostgresMigrations(sql);
      if (pending.length > 0) {
        throw new DeskgateError('STORE_SCHEMA_OLD', `${maskUrl(url)} needs migration ${pending.join(', ')}: run deskgate migrate (or serve) once to upgrade it`, { context: { store: maskUrl(url), pending } });
      }
    } else {
      migrated = await migratePostgres(sql);
    }
  } catch (err) {
    await sql.close();
    throw err;
  }
  const blobs = createPgBlobStore(sql);
  return {
    sql, backend: 'postgres', location: maskUrl(url), migrated,
    raw: new RawStore(pgSpool(blobs)), attachments: pgAttachments(blobs), blobs,
    close: () => sql.close(),
  };
}
