import { parentPort, workerData } from 'node:worker_threads';
import { parseMessage } from './parse-message.js';
import { fileSink } from './file-sink.js';

/**
 * Runs MIME parsing off the event loop that serves SMTP sessions, one message at a time. It
 * says when it starts a message, so the pool's timeout counts the parse, not thread boot.
 */
const { replyLine, attachmentsDir } = workerData as { replyLine: string; attachmentsDir?: string };
const sink = attachmentsDir ? fileSink(attachmentsDir) : undefined;
parentPort!.on('message', (msg: { id: number; raw: Uint8Array; replyHint: boolean }) => {
  parentPort!.postMessage({ id: msg.id, started: true });
  parseMessage(Buffer.from(msg.raw.buffer, msg.raw.byteOffset, msg.raw.byteLength), { replyLine, replyHint: msg.replyHint, ...(sink ? { sink } : {}) }).then(
    (result) => parentPort!.postMessage({ id: msg.id, result }),
    (err: unknown) => {
      const code = (err as { code?: unknown } | null)?.code;
      parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err), ...(typeof code === 'string' && /^PARSE_[A-Z0-9_]+$/.test(code) ? { code } : {}) });
    },
  );
});
