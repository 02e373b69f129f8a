import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

/**
 * A message to parse: its bytes, or the path of its spool file, which the parser streams
 * (issue 15: a big message is never read whole into memory).
 */
export type MessageSource = Buffer | { path: string; size: number };

export const sourceSize = (source: MessageSource): number => (Buffer.isBuffer(source) ? source.length : source.size);

/** What parseMessage reads: the bytes, or a stream of the file. */
export function sourceStream(source: MessageSource): Buffer | Readable {
  return Buffer.isBuffer(source) ? source : createReadStream(source.path, { highWaterMark: 64 * 1024 });
}
