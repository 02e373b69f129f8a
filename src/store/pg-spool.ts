import type { PgBlobStore } from './blobs-postgres.js';
import type { Spool, SpoolFile } from './raw-store.js';
import { createReadStream } from 'node:fs';
import type { AttachmentSink } from './attachment-store.js';

const PREFIX = 'blob:';

/**
 * The raw spool when several nodes share PostgreSQL (R71): a big message streams into
 * blob_chunks as it arrives (one chunk in memory), so any node can process it. Its intake row
 * names it `blob:<key>`; nothing is on the receiving node's disk.
 */
export function pgSpool(blobs: PgBlobStore): Spool {
  const keyOf = (ref: string) => (ref.startsWith(PREFIX) ? ref.slice(PREFIX.length) : ref);
  return {
    async open(now: Date): Promise<SpoolFile> {
      const w = await blobs.writer({ key: `raw/${now.toISOString().slice(0, 10)}/${now.getTime()}-${Math.random().toString(36).slice(2, 12)}` });
      return {
        ref: `${PREFIX}${w.key}`,
        dirs: [],
        async write(chunks) { for (const c of chunks) await w.write(c); },
        async finish() { await w.finish(); },
        async abort() { await w.abort(); },
      };
    },
    read: (ref) => blobs.read(keyOf(ref)),
    stream: (ref) => blobs.stream(keyOf(ref)),
    remove: (ref) => blobs.remove(keyOf(ref)),
    // Each chunk committed when it was written: nothing to sync.
    async syncDirs() {},
  };
}

/** Attachments by content in PostgreSQL: `attachment/<sha256>`, stored once. */
export function pgAttachments(blobs: PgBlobStore): AttachmentSink {
  return {
    put: (sha256, content) => blobs.put(`attachment/${sha256}`, content),
    // Stored already (a repeated logo): putStream does not even open the file.
    putFile: (sha256, path) => blobs.putStream(`attachment/${sha256}`, () => createReadStream(path, { highWaterMark: 256 * 1024 })),
  };
}
