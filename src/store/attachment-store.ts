import { mkdir, open, rename, stat, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';

/** Where attachments go: stored once by their sha256, so a re-processed message rewrites nothing. */
export interface AttachmentSink {
  put(sha256: string, content: Buffer): Promise<void>;
  /** The bytes of a scratch file the parser streamed them into (PostgreSQL), streamed in. */
  putFile?(sha256: string, path: string): Promise<void>;
}

/**
 * Attachments stored once by content (sha256) under data_dir/attachments/ab/abcdef…; the same
 * file mailed twice takes the space once, and re-processing a message rewrites nothing.
 */
export class AttachmentStore implements AttachmentSink {
  constructor(readonly dataDir: string) {}

  pathFor(sha256: string): string {
    return join(this.dataDir, 'attachments', sha256.slice(0, 2), sha256);
  }

  /**
   * Streams an attachment in as it is decoded, hashing on the way (issue 15: a big attachment is
   * never held in memory); the file is fsynced and renamed to its sha256 path, or dropped when
   * that content is stored already.
   */
  async putStream(content: AsyncIterable<Buffer | Uint8Array>): Promise<{ sha256: string; size: number }> {
    const hash = createHash('sha256');
    let size = 0;
    const tmp = await this.writeTemp(async (fh) => {
      for await (const chunk of content) {
        hash.update(chunk);
        size += chunk.length;
        await fh.write(chunk);
      }
    });
    const sha256 = hash.digest('hex');
    if (await this.has(sha256)) await rm(tmp, { force: true }); // the same content is stored already
    else await this.install(tmp, sha256);
    return { sha256, size };
  }

  async put(sha256: string, content: Buffer): Promise<void> {
    if (await this.has(sha256)) return; // already there: content-addressed, so identical
    await this.install(await this.writeTemp((fh) => fh.write(content)), sha256);
  }

  private has(sha256: string): Promise<boolean> {
    return stat(this.pathFor(sha256)).then(() => true, () => false);
  }

  /** Writes a new temp file in data_dir/attachments with `fill` and fsyncs it; on any failure it is gone. */
  private async writeTemp(fill: (fh: FileHandle) => Promise<unknown>): Promise<string> {
    const dir = join(this.dataDir, 'attachments');
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `incoming.${randomBytes(8).toString('hex')}.tmp`);
    const fh = await open(tmp, 'w', 0o640);
    try {
      await fill(fh);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    return tmp;
  }

  /** Renames a written temp file to its sha256 path (removing it when that fails). */
  private async install(tmp: string, sha256: string): Promise<void> {
    await mkdir(join(this.dataDir, 'attachments', sha256.slice(0, 2)), { recursive: true });
    try {
      await rename(tmp, this.pathFor(sha256));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}
