import { mkdir, open, rename, stat, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

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
