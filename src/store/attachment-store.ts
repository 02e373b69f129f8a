import { mkdir, open, rename, stat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';

/** Where attachments go: stored once by their sha256, so a re-processed message rewrites nothing. */
export interface AttachmentSink {
  put(sha256: string, content: Buffer): Promise<void>;
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
    const dir = join(this.dataDir, 'attachments');
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `incoming.${randomBytes(8).toString('hex')}.tmp`);
    const hash = createHash('sha256');
    let size = 0;
    const fh = await open(tmp, 'w', 0o640);
    try {
      for await (const chunk of content) {
        hash.update(chunk);
        size += chunk.length;
        await fh.write(chunk);
      }
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    await fh.close();
    const sha256 = hash.digest('hex');
    const final = this.pathFor(sha256);
    try {
      await stat(final);
      await rm(tmp, { force: true }); // the same content is stored already
    } catch {
      await mkdir(join(dir, sha256.slice(0, 2)), { recursive: true });
      await rename(tmp, final).catch(async (err: unknown) => { await rm(tmp, { force: true }); throw err; });
    }
    return { sha256, size };
  }

  async put(sha256: string, content: Buffer): Promise<void> {
    const final = this.pathFor(sha256);
    try {
      await stat(final);
      return; // already there: content-addressed, so identical
    } catch { /* not yet stored */ }
    await mkdir(join(this.dataDir, 'attachments', sha256.slice(0, 2)), { recursive: true });
    const tmp = `${final}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w', 0o640);
    try {
      await fh.write(content);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, final);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}
