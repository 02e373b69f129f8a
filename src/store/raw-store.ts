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

/**
 * The raw message spool under data_dir/raw/<date>/. Each file is written once, fsynced, and
 * its directory fsynced (once per group commit, see syncDirs) before the intake row that names
 * it is committed: that order is what makes a 250 safe to give (R6).
 */
export class RawStore {
  private readonly knownDirs = new Set<string>();

  /** Messages up to this size stay in memory and go into the database with their intake row. */
  constructor(readonly dataDir: string, readonly inlineMax = 256 * 1024) {}

  private async dirFor(now: Date): Promise<{ rel: string; created: boolean }> {
    const rel = join('raw', now.toISOString().slice(0, 10));
    if (this.knownDirs.has(rel)) return { rel, created: false };
    const made = await mkdir(join(this.dataDir, rel), { recursive: true });
    this.knownDirs.add(rel);
    return { rel, created: made !== undefined };
  }

  /**
   * Reads a message, keeping it in memory while it is small and streaming it to a file once it
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
    let file: { fh: FileHandle; relPath: string; dirs: string[] } | undefined;
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
          await file.fh.write(chunk);
        } else {
          held.push(chunk);
          heldBytes += chunk.length;
          if (heldBytes > this.inlineMax) {
            file = await this.openFile(now);
            await file.fh.writev(held);
            held = [];
          }
        }
      }
      if (file && !sizeExceeded) await file.fh.sync();
    } catch (err) {
      // The sender went away or was cut mid-DATA: nothing names this file, so it goes now.
      await file?.fh.close();
      if (file) await rm(join(this.dataDir, file.relPath), { force: true });
      file = undefined;
      throw err;
    } finally {
      await file?.fh.close();
    }
    if (sizeExceeded && file) await rm(join(this.dataDir, file.relPath), { force: true });
    const base = { size, sha256: hash.digest('hex'), headerBlock: head.toString('latin1'), sizeExceeded };
    if (file) return { ...base, relPath: file.relPath, inline: null, dirs: file.dirs };
    return { ...base, relPath: null, inline: sizeExceeded ? null : Buffer.concat(held), dirs: [] };
  }

  private async openFile(now: Date): Promise<{ fh: FileHandle; relPath: string; dirs: string[] }> {
    const { rel: dirRel, created } = await this.dirFor(now);
    const name = `${now.toISOString().slice(11, 23).replace(/[:.]/g, '')}-${randomBytes(8).toString('hex')}.eml`;
    const relPath = join(dirRel, name);
    const fh = await open(join(this.dataDir, relPath), 'wx', 0o640);
    return { fh, relPath, dirs: created ? [dirRel, dirname(dirRel)] : [dirRel] };
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



  remove(relPath: string): Promise<void> {
    return rm(join(this.dataDir, relPath), { force: true });
  }
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}
