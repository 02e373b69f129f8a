import Database from 'better-sqlite3';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { databaseFile, type Db } from './db.js';
import { DeskgateError } from '../shared/errors.js';

const FILE_DIRS = ['attachments', 'raw'];

function* walk(dir: string): Generator<string> {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile() && !e.name.endsWith('.tmp')) yield p;
  }
}

/**
 * One-file backup, safe while `serve` runs: SQLite's online backup of the database first, then
 * the attachment and raw-message files and the secret copied into the same file. Files are
 * only ever added, so every file the snapshot refers to exists when it is copied.
 */
export async function backupTo(db: Db, dataDir: string, file: string, meta: Record<string, string>): Promise<{ files: number; bytes: number }> {
  const tmp = `${file}.partial`;
  rmSync(tmp, { force: true });
  await db.backup(tmp);
  const out = new Database(tmp);
  try {
    out.exec('CREATE TABLE backup_files (path TEXT PRIMARY KEY, content BLOB NOT NULL); CREATE TABLE backup_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const put = out.prepare('INSERT INTO backup_files (path, content) VALUES (?, ?)');
    let files = 0;
    let bytes = 0;
    const add = out.transaction((paths: string[]) => {
      for (const p of paths) {
        const content = readFileSync(p);
        put.run(relative(dataDir, p).split(sep).join('/'), content);
        files++;
        bytes += content.length;
      }
    });
    const all = [...FILE_DIRS.flatMap((d) => [...walk(join(dataDir, d))]), ...(existsSync(join(dataDir, 'secret')) ? [join(dataDir, 'secret')] : [])];
    for (let i = 0; i < all.length; i += 500) add(all.slice(i, i + 500));
    const m = out.prepare('INSERT INTO backup_meta (key, value) VALUES (?, ?)');
    for (const [k, v] of Object.entries({ ...meta, files: String(files) })) m.run(k, v);
    out.pragma('journal_mode = DELETE');
    out.close();
    renameSync(tmp, file);
    return { files, bytes };
  } catch (err) {
    if (out.open) out.close();
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Restores a backup into data_dir: files first, then the database swapped in by rename. Stop
 * `serve` first; refuses to replace existing tickets unless `force`.
 */
export function restoreFrom(file: string, dataDir: string, force: boolean): { files: number; tickets: number } {
  if (!existsSync(file) || statSync(file).size === 0) throw new DeskgateError('BACKUP_INVALID', `${file} is not a backup file`);
  const dbPath = databaseFile(dataDir);
  if (existsSync(dbPath) && !force) {
    const cur = new Database(dbPath, { readonly: true });
    try {
      const n = cur.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'tickets'").pluck().get() === 1 ? (cur.prepare('SELECT count(*) FROM tickets').pluck().get() as number) : 0;
      if (n > 0) throw new DeskgateError('BACKUP_WOULD_REPLACE', `${dataDir} already has ${n} tickets: stop deskgate serve and give --force to replace them`);
    } finally {
      cur.close();
    }
  }
  mkdirSync(dataDir, { recursive: true });
  const tmp = `${dbPath}.restore`;
  copyFileSync(file, tmp);
  const db = new Database(tmp);
  let files = 0;
  let tickets = 0;
  try {
    const ok = db.prepare("SELECT count(*) FROM sqlite_master WHERE name IN ('backup_files', 'backup_meta', 'tickets')").pluck().get() === 3;
    if (!ok) throw new DeskgateError('BACKUP_INVALID', `${file} is not a deskgate backup`);
    for (const row of db.prepare('SELECT path, content FROM backup_files').iterate() as Iterable<{ path: string; content: Buffer }>) {
      if (row.path.includes('..') || row.path.startsWith('/')) throw new DeskgateError('BACKUP_UNSAFE_PATH', `unsafe path in backup: ${row.path}`);
      const target = join(dataDir, row.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, row.content, { mode: row.path === 'secret' ? 0o600 : 0o640 });
      files++;
    }
    db.exec('DROP TABLE backup_files; DROP TABLE backup_meta; VACUUM');
    tickets = db.prepare('SELECT count(*) FROM tickets').pluck().get() as number;
  } finally {
    db.close();
  }
  for (const suffix of ['-wal', '-shm']) rmSync(dbPath + suffix, { force: true });
  renameSync(tmp, dbPath);
  return { files, tickets };
}
