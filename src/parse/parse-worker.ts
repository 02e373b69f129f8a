import { parentPort, workerData } from 'node:worker_threads';
import { parseMessage } from './parse-message.js';

/** Runs MIME parsing off the event loop that serves SMTP sessions. */
const { replyLine } = workerData as { replyLine: string };
parentPort!.on('message', (msg: { id: number; raw: Uint8Array; replyHint: boolean }) => {
  parseMessage(Buffer.from(msg.raw.buffer, msg.raw.byteOffset, msg.raw.byteLength), { replyLine, replyHint: msg.replyHint }).then(
    (result) => parentPort!.postMessage({ id: msg.id, result }),
    (err: unknown) => parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
