import { createReadStream, existsSync } from 'node:fs';
import { isAbsolute, join, normalize, resolve, sep } from 'node:path';
import type { Config } from '../config/index.js';
import { resolveSecret } from '../config/index.js';
import { DeskgateError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { databaseFile } from './db.js';
import { openStore, type Store } from './open-store.js';
import type { PgBlobStore } from './blobs-postgres.js';
import { lockKey, type Sql, type SqlRow } from './sql.js';

/** What `deskgate migrate` did. */
export interface MigrateReport {
  backend: Config['store']['backend'];
  location: string;
  /** Versions this run applied (empty: the schema was current already). */
  applied: number[];
  current: number;
}

/** Opens the configured store the way serve does (which migrates) and reports what that applied. */
export async function migrateStore(config: Pick<Config, 'data_dir' | 'store'>, opts: { logger?: Logger } = {}): Promise<MigrateReport> {
  const store = await openStore(config, opts);
  try {
    const current = await store.sql.value<number | null>('SELECT max(version) FROM schema_migrations');
    return { backend: store.backend, location: store.location, applied: store.migrated, current: current ?? 0 };
  } finally {
    await store.close();
  }
}

/**
 * The tables copy-store moves, parents first (foreign keys), each with the order its rows are
 * read in. nodes is left out (the running processes of the old deployment), and so is
 * outbox_recipients (PostgreSQL has no such table: unused since SQLite migration 8).
 */
const TABLES: ReadonlyArray<{ name: string; identity?: boolean; rowsPerBatch?: number; noRowid?: boolean }> = [
  { name: 'users', identity: true },
  { name: 'tickets', identity: true },
  { name: 'intake', identity: true },
  // Up to 256 KiB of bytes per row: a small batch keeps one INSERT (and the memory) bounded.
  { name: 'intake_raw', rowsPerBatch: 32 },
  { name: 'comments', identity: true },
  { name: 'ticket_ccs' },
  { name: 'ticket_followers' },
  { name: 'attachments', identity: true },
  // rowid is PostgreSQL's own (GENERATED ALWAYS): inserted in SQLite's rowid order, it keeps the order.
  { name: 'message_ids' },
  { name: 'audit', identity: true },
  { name: 'outbox', identity: true },
  { name: 'imap_state' },
  { name: 'rate_counters', noRowid: true },
  { name: 'meta' },
];

/** Target tables that may hold rows although it has no tickets and no intake (a serve start, an interrupted copy). */
const REPLACED = ['meta', 'rate_counters', 'imap_state', 'users'];

export interface CopyReport {
  from: string;
  to: string;
  /** Rows copied, per table. */
  tables: Record<string, number>;
  /** Raw message files now blobs (`raw_path = 'blob:<key>'`). */
  raw_blobs: number;
  /** Attachment files now blobs (`attachment/<sha256>`). */
  attachments: number;
  /** Raw files named by an intake row but not on disk: the rows are copied, their bytes are not. */
  missing_raw: { count: number; intake_ids: number[] };
  missing_attachments: { count: number; sha256: string[] };
  /** Where the reply-token key of the new deployment is: `config`, `copied` (into meta) or `none`. */
  secret: 'config' | 'copied' | 'none';
  /** False when the new config's secret differs from the old key: reply tokens already sent no longer verify. */
  old_tokens_verify: boolean;
  seconds: number;
}

const BATCH = 1000;

/** A refusal an admin can act on (copy-store exits 1 with it). */
function refuse(message: string, context: Record<string, unknown> = {}): DeskgateError {
  return new DeskgateError('STORE_COPY_REFUSED', message, { context });
}

/**
 * Moves a SQLite deployment (data_dir of `source`) into the PostgreSQL of `target`: every table
 * with its ids, raw files and attachments as blobs, the reply-token key into meta. The rows go in
 * one PostgreSQL transaction, so a copy that fails leaves the target as it was and can be run
 * again; the blobs are written before it (content-named, so a second run reuses them).
 */
export async function copyStore(source: Config, target: Config, opts: { logger?: Logger; batchSize?: number } = {}): Promise<CopyReport> {
  const began = Date.now();
  if (source.store.backend !== 'sqlite') throw refuse(`--from config ${source.configPath} is not a SQLite deployment (store.backend: ${source.store.backend})`);
  if (target.store.backend !== 'postgres') throw refuse(`the target config ${target.configPath} must have store.backend: postgres`);
  const file = databaseFile(source.data_dir);
  if (!existsSync(file)) throw refuse(`no SQLite database at ${file}: check data_dir in ${source.configPath}`, { file });
  const src = await openSource(source);
  try {
    const dst = await openStore(target, opts.logger ? { logger: opts.logger } : {});
    try {
      if (await holdsMail(dst.sql)) throw refuse(`${dst.location} already holds tickets or intake: copy-store only fills an empty database`, { store: dst.location });
      // One read snapshot of the source for the whole copy: files and rows agree.
      return await src.sql.tx(async () => {
        const blobs = await copyFiles(src.sql, source.data_dir, dst.blobs!, opts.logger);
        const oldKey = resolveSecret(source, { create: false }) ?? undefined;
        // The new config's own key wins; without one, the old key goes into meta for every node.
        const secret = target.secret ? undefined : oldKey;
        const tables = await dst.sql.tx(() => copyRows(src.sql, dst.sql, blobs.rawKeys, secret, opts.batchSize ?? BATCH));
        return {
          from: src.location, to: dst.location, tables,
          raw_blobs: blobs.raw, attachments: blobs.attachments,
          missing_raw: { count: blobs.missingRaw.length, intake_ids: blobs.missingRaw },
          missing_attachments: { count: blobs.missingAttachments.length, sha256: blobs.missingAttachments },
          secret: target.secret ? 'config' : secret ? 'copied' : 'none',
          old_tokens_verify: !target.secret || oldKey === undefined || oldKey === target.secret,
          seconds: (Date.now() - began) / 1000,
        };
      }, { readOnly: true });
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

/** The old deployment, read-only: one that still needs a migration is refused (migrating writes). */
async function openSource(source: Config): Promise<Store> {
  try {
    return await openStore(source, { readOnly: true });
  } catch (err) {
    if (err instanceof DeskgateError && err.code === 'STORE_SCHEMA_OLD') {
      throw refuse(`the SQLite database of ${source.configPath} is not at the current schema: run deskgate migrate -c ${source.configPath} first (${err.message})`, err.context);
    }
    throw err;
  }
}

async function holdsMail(sql: Sql): Promise<boolean> {
  return (await sql.value<number>('SELECT (SELECT count(*) FROM tickets) + (SELECT count(*) FROM intake)'))! > 0;
}

interface CopiedFiles {
  /** intake id -> blob key of its raw file. */
  rawKeys: Map<number, string>;
  raw: number;
  attachments: number;
  missingRaw: number[];
  missingAttachments: string[];
}

/** Raw files and attachments into blobs, each streamed one chunk at a time. */
async function copyFiles(src: Sql, dataDir: string, blobs: PgBlobStore, logger?: Logger): Promise<CopiedFiles> {
  const out: CopiedFiles = { rawKeys: new Map(), raw: 0, attachments: 0, missingRaw: [], missingAttachments: [] };
  for (let after = 0; ;) {
    const rows = await src.all<{ id: number; raw_path: string }>(
      "SELECT id, raw_path FROM intake WHERE raw_path IS NOT NULL AND raw_path NOT LIKE 'blob:%' AND id > ? ORDER BY id LIMIT ?", [after, BATCH]);
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    for (const r of rows) {
      const key = rawKey(r.id, r.raw_path);
      if (await fileToBlob(resolve(dataDir, r.raw_path), key, blobs)) {
        out.rawKeys.set(r.id, key);
        out.raw++;
      } else {
        out.missingRaw.push(r.id);
        logger?.warn({ intake_id: r.id, raw_path: r.raw_path }, 'copy-store: raw file missing; the intake row is copied without its bytes');
      }
    }
  }
  for (const sha of await src.column<string>('SELECT DISTINCT sha256 FROM attachments ORDER BY sha256')) {
    if (await fileToBlob(join(dataDir, 'attachments', sha.slice(0, 2), sha), `attachment/${sha}`, blobs)) out.attachments++;
    else {
      out.missingAttachments.push(sha);
      logger?.warn({ sha256: sha }, 'copy-store: attachment file missing');
    }
  }
  return out;
}

/** The blob key of a raw file: its path under data_dir (raw/<date>/<name>), so it says where it came from. */
function rawKey(id: number, rawPath: string): string {
  const rel = normalize(rawPath);
  if (isAbsolute(rel) || rel.startsWith('..')) return `raw/copied/${id}`;
  return rel.split(sep).join('/');
}

/** Streams a file into a blob; false when the file is not there. A complete blob of that key is kept. */
async function fileToBlob(path: string, key: string, blobs: PgBlobStore): Promise<boolean> {
  if (!existsSync(path)) return false;
  if (await blobs.has(key)) return true;
  await blobs.remove(key); // an incomplete one an interrupted copy left
  const w = await blobs.writer({ key });
  try {
    for await (const chunk of createReadStream(path)) await w.write(chunk as Buffer);
    await w.finish();
  } catch (err) {
    await w.abort().catch(() => {});
    throw err;
  }
  return true;
}

/** Every table's rows (inside the caller's PostgreSQL transaction), then the identity sequences. */
async function copyRows(src: Sql, dst: Sql, rawKeys: Map<number, string>, secret: string | undefined, batchSize: number): Promise<Record<string, number>> {
  // A second copy-store started meanwhile waits here, then finds tickets and is refused.
  await dst.run('SELECT pg_advisory_xact_lock(?::bigint)', [lockKey('copy-store').toString()]);
  if (await holdsMail(dst)) throw refuse('the target received tickets or intake while copy-store started: nothing copied');
  for (const t of REPLACED) await dst.run(`DELETE FROM ${t}`);
  const counts: Record<string, number> = {};
  for (const t of TABLES) {
    const columns = await commonColumns(src, dst, t.name);
    const rewrite = t.name === 'intake'
      ? (row: SqlRow) => { const key = rawKeys.get(row.id as number); return key ? { ...row, raw_path: `blob:${key}` } : row; }
      : undefined;
    counts[t.name] = await copyTable(src, dst, t, columns, Math.min(batchSize, t.rowsPerBatch ?? batchSize), rewrite);
  }
  if (secret) await dst.run("INSERT INTO meta (key, value) VALUES ('secret', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [secret]);
  for (const t of TABLES.filter((x) => x.identity)) {
    // Next id past the copied ones: rows the new deployment adds never collide with them.
    await dst.value(`SELECT setval(pg_get_serial_sequence('${t.name}', 'id'), coalesce((SELECT max(id) FROM ${t.name}), 0) + 1, false)`);
  }
  return counts;
}

/** The source's columns, each of which the target must have (message_ids.rowid is the target's own). */
async function commonColumns(src: Sql, dst: Sql, table: string): Promise<string[]> {
  const theirs = await src.column<string>('SELECT name FROM pragma_table_info(?) ORDER BY cid', [table]);
  const ours = new Set(await dst.column<string>('SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?', [table]));
  if (ours.size === 0) throw refuse(`the PostgreSQL database has no table ${table}: is it at the current schema?`, { table });
  const lacking = theirs.filter((c) => !ours.has(c));
  if (lacking.length > 0) throw refuse(`PostgreSQL table ${table} has no column ${lacking.join(', ')}: the two schemas differ (run deskgate migrate on both)`, { table, lacking });
  return theirs;
}

/** One table in batches: read by rowid (or primary key), multi-row INSERT with the same values. */
async function copyTable(src: Sql, dst: Sql, t: (typeof TABLES)[number], columns: string[], batch: number, rewrite?: (row: SqlRow) => SqlRow): Promise<number> {
  const list = columns.join(', ');
  let n = 0;
  for (let after = 0, offset = 0; ;) {
    // rate_counters is WITHOUT ROWID: by primary key and offset (inside one snapshot, so stable).
    const rows = t.noRowid
      ? await src.all(`SELECT ${list} FROM ${t.name} ORDER BY kind, address, minute LIMIT ? OFFSET ?`, [batch, offset])
      : await src.all(`SELECT rowid AS "_rowid", ${list} FROM ${t.name} WHERE rowid > ? ORDER BY rowid LIMIT ?`, [after, batch]);
    if (rows.length === 0) return n;
    if (!t.noRowid) after = rows[rows.length - 1]!._rowid as number;
    offset += rows.length;
    const values: unknown[] = [];
    for (const raw of rows) {
      const row = rewrite ? rewrite(raw) : raw;
      for (const c of columns) values.push(row[c] ?? null);
    }
    const one = `(${columns.map(() => '?').join(', ')})`;
    await dst.run(`INSERT INTO ${t.name} (${list}) VALUES ${Array(rows.length).fill(one).join(', ')}`, values);
    n += rows.length;
  }
}
