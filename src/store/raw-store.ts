import { createReadStream } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import type { Readable } from 'node:stream';

/**
 * What writing one raw message produced: the bytes in memory (small messages, committed with
 * the intake row) or the path of an fsynced file relative to data_dir (large ones).
 */
export interface RawWriteResult {
  relPath: string | null;
  inline: Buffer | null;
  /** Bytes the sender sent (without the Received line deskgate prepends). */
  size: number;
  /** sha256 of the sender's bytes: the R7 key of a message without Message-ID. */
  sha256: string;
  /** The header block as received (capped), so ingest can read Message-ID without parsing MIME. */
  headerBlock: string;
  sizeExceeded: boolean;
}

const HEADER_CAP = 256 * 1024;

function headerEnd(buf: Buffer): number {
  const crlf = buf.indexOf('\r\n\r\n');
  const lf = buf.indexOf('\n\n');
  if (crlf < 0) return lf;
  if (lf < 0) return crlf;
  return Math.min(crlf, lf);
}

/** Where a message too big to commit with its intake row goes while it streams in. */
export interface SpoolFile {
  /** What the intake row's raw_path names: a path under data_dir, or `blob:<key>` in the database. */
  readonly ref: string;
  /** Directories whose entries must be fsynced before the row commits (files only). */
  readonly dirs: string[];
  write(chunks: Buffer[]): Promise<void>;
  /** The bytes are durable. */
  finish(): Promise<void>;
  /** Nothing names it: gone. */
  abort(): Promise<void>;
}

export interface Spool {
  open(now: Date): Promise<SpoolFile>;
  read(ref: string): Promise<Buffer>;
  /** The file a ref names, for a reader that streams it (undefined: the bytes are in the database). */
  localPath?(ref: string): string;
  /** The bytes a chunk at a time (a file's or PostgreSQL's blob chunks). */
  stream(ref: string): AsyncIterable<Buffer>;
  remove(ref: string): Promise<void>;
  syncDirs(dirs: Iterable<string>): Promise<void>;
}

/**
 * The raw message spool under data_dir/raw/<date>/. Each file is written once, fsynced, and
 * its directory fsynced (once per group commit, see syncDirs) before the intake row that names
 * it is committed: that order is what makes a 250 safe to give (R6).
 */
export class FileSpool implements Spool {
  private readonly knownDirs = new Set<string>();

  constructor(readonly dataDir: string) {}

  private async dirFor(now: Date): Promise<{ rel: string; created: boolean }> {
    const rel = join('raw', now.toISOString().slice(0, 10));
    if (this.knownDirs.has(rel)) return { rel, created: false };
    const made = await mkdir(join(this.dataDir, rel), { recursive: true });
    this.knownDirs.add(rel);
    return { rel, created: made !== undefined };
  }

  async open(now: Date): Promise<SpoolFile> {
    const { rel: dirRel, created } = await this.dirFor(now);
    const name = `${now.toISOString().slice(11, 23).replace(/[:.]/g, '')}-${randomBytes(8).toString('hex')}.eml`;
    const relPath = join(dirRel, name);
    const full = join(this.dataDir, relPath);
    const fh: FileHandle = await open(full, 'wx', 0o640);
    let closed = false;
    const close = async () => { if (!closed) { closed = true; await fh.close(); } };
    return {
      ref: relPath,
      dirs: created ? [dirRel, dirname(dirRel)] : [dirRel],
      async write(chunks) { await fh.writev(chunks); },
      async finish() { try { await fh.sync(); } finally { await close(); } },
      async abort() { await close(); await rm(full, { force: true }); },
    };
  }

  /** fsync directories so the new files' names survive a crash. */
  async syncDirs(relDirs: Iterable<string>): Promise<void> {
    for (const rel of new Set(relDirs)) {
      const fh = await open(join(this.dataDir, rel), 'r');
      try { await fh.sync(); } finally { await fh.close(); }
    }
  }

  read(relPath: string): Promise<Buffer> {
    return readFile(join(this.dataDir, relPath));
  }

  localPath(relPath: string): string {
    return join(this.dataDir, relPath);
  }

  stream(relPath: string): AsyncIterable<Buffer> {
    return createReadStream(join(this.dataDir, relPath), { highWaterMark: 64 * 1024 });
  }

  remove(relPath: string): Promise<void> {
    return rm(join(this.dataDir, relPath), { force: true });
  }
}

/**
 * Reads a message as it arrives: small ones stay in memory and are committed with their intake
 * row; past inlineMax the bytes stream to the spool (a file under data_dir, or the database
 * when several nodes share it). Hashes, and keeps the header block, on the way.
 */
export class RawStore {
  readonly spool: Spool;

  /** Messages up to inlineMax bytes stay in memory and go into the database with their intake row. */
  constructor(spool: Spool | string, readonly inlineMax = 256 * 1024) {
    this.spool = typeof spool === 'string' ? new FileSpool(spool) : spool;
  }

  /**
   * Reads a message, keeping it in memory while it is small and streaming it to the spool once it
   * passes inlineMax; stops keeping bytes (but drains) past maxSize.
   */
  async write(source: Readable | Buffer, opts: { prefix?: string; maxSize?: number; now?: Date; observe?: (chunk: Buffer) => void } = {}): Promise<RawWriteResult & { dirs: string[] }> {
    const now = opts.now ?? new Date();
    const hash = createHash('sha256');
    let size = 0;
    let head: Buffer = Buffer.alloc(0);
    let headDone = false;
    let sizeExceeded = false;
    let held: Buffer[] = opts.prefix ? [Buffer.from(opts.prefix)] : [];
    let heldBytes = held[0]?.length ?? 0;
    let file: SpoolFile | undefined;
    try {
      const chunks: AsyncIterable<Buffer> = Buffer.isBuffer(source) ? [source] as unknown as AsyncIterable<Buffer> : (source as AsyncIterable<Buffer>);
      for await (const chunk of chunks) {
        size += chunk.length;
        if (opts.maxSize !== undefined && size > opts.maxSize) sizeExceeded = true;
        if (sizeExceeded) continue; // keep reading so the SMTP client gets our answer, but keep nothing more
        opts.observe?.(chunk);
        hash.update(chunk);
        if (!headDone) {
          head = Buffer.concat([head, chunk]);
          const end = headerEnd(head);
          if (end >= 0) { head = head.subarray(0, end); headDone = true; }
          else if (head.length > HEADER_CAP) { head = head.subarray(0, HEADER_CAP); headDone = true; }
        }
        if (file) {
          await file.write([chunk]);
        } else {
          held.push(chunk);
          heldBytes += chunk.length;
          if (heldBytes > this.inlineMax) {
            file = await this.spool.open(now);
            await file.write(held);
            held = [];
          }
        }
      }
      if (file && !sizeExceeded) await file.finish();
    } catch (err) {
      // The sender went away or was cut mid-DATA: nothing names these bytes, so they go now.
      await file?.abort();
      throw err;
    }
    if (sizeExceeded && file) { await file.abort(); file = undefined; }
    const base = { size, sha256: hash.digest('hex'), headerBlock: head.toString('latin1'), sizeExceeded };
    if (file) return { ...base, relPath: file.ref, inline: null, dirs: file.dirs };
    return { ...base, relPath: null, inline: sizeExceeded ? null : Buffer.concat(held), dirs: [] };
  }

  syncDirs(dirs: Iterable<string>): Promise<void> {
    return this.spool.syncDirs(dirs);
  }

  read(ref: string): Promise<Buffer> {
    return this.spool.read(ref);
  }

  /** The bytes of a ref a chunk at a time. */
  stream(ref: string): AsyncIterable<Buffer> {
    return this.spool.stream(ref);
  }

  /** The file a ref names when the spool is files (to stream it), else undefined. */
  localPath(ref: string): string | undefined {
    return this.spool.localPath?.(ref);
  }

  remove(ref: string): Promise<void> {
    return this.spool.remove(ref);
  }
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
