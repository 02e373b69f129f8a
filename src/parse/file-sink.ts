import { rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { AttachmentStore } from '../store/attachment-store.js';
import { writeScratch } from '../store/scratch.js';
import type { ContentSink } from './mail-stream.js';

/** Attachments written into data_dir/attachments while mailparser decodes them, hashed on the way. */
export function fileSink(dataDir: string): ContentSink {
  const store = new AttachmentStore(dataDir);
  return (content) => store.putStream(content);
}

/**
 * PostgreSQL (issue 14): the content store is the database, which the parser thread cannot
 * reach, so each attachment streams into a scratch file of this node (hashed on the way) and
 * the processing stage streams that into the database. No fsync: the file is only a hand-over;
 * the database write is what makes it durable. A big attachment is never held in memory.
 */
export function scratchSink(dir: string, onFile?: (path: string) => void): ContentSink {
  return async (content) => {
    const hash = createHash('sha256');
    let size = 0;
    async function* hashed(): AsyncIterable<Buffer> {
      for await (const chunk of content) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    }
    const file = await writeScratch(dir, 'attachment', hashed(), onFile);
    return { sha256: hash.digest('hex'), size, file };
  };
}

/** Where a parser puts attachments: the file content store, scratch files, or (neither) memory. */
export interface SinkOptions { attachmentsDir?: string | undefined; scratchDir?: string | undefined }

export function sinkFor(opts: SinkOptions, onScratchFile?: (path: string) => void): ContentSink | undefined {
  if (opts.attachmentsDir) return fileSink(opts.attachmentsDir);
  if (opts.scratchDir) return scratchSink(opts.scratchDir, onScratchFile);
  return undefined;
}

/**
 * One parse on the caller's thread with `base` (parse_workers: 0): when it fails, the scratch
 * files it had written are removed (a parse that succeeds hands them to the processing stage,
 * which removes them once stored). Parser threads leave this to their pool (parse-pool.ts).
 */
export async function parseCleaning<T>(base: ContentSink | undefined, run: (sink: ContentSink | undefined) => Promise<T>): Promise<T> {
  if (!base) return run(undefined);
  const files: string[] = [];
  const writing = new Set<Promise<unknown>>();
  const sink: ContentSink = (content) => {
    const stored = base(content).then((s) => { if (s.file) files.push(s.file); return s; });
    writing.add(stored);
    void stored.finally(() => writing.delete(stored)).catch(() => {});
    return stored;
  };
  try {
    return await run(sink);
  } catch (err) {
    // The parser may give up while a sink still writes: wait for it, then remove its file too.
    await Promise.allSettled([...writing]);
    await Promise.all(files.map((f) => rm(f, { force: true })));
    throw err;
  }
}
