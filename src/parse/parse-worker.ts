import { parentPort, workerData } from 'node:worker_threads';
import { parseMessage } from './parse-message.js';
import { sourceStream } from './message-source.js';
import { sinkFor, type SinkOptions } from './file-sink.js';

/**
 * Runs MIME parsing off the event loop that serves SMTP sessions, one message at a time. It
 * says when it starts a message, so the pool's timeout counts the parse, not thread boot.
 */
const { replyLine, ...sinkOptions } = workerData as { replyLine: string } & SinkOptions;
type Source = Uint8Array | { path: string; size: number };
parentPort!.on('message', (msg: { id: number; source: Source; replyHint: boolean }) => {
  parentPort!.postMessage({ id: msg.id, started: true });
  // Structured clone gives a Uint8Array: read it as a Buffer, uncopied.
  const source = msg.source instanceof Uint8Array ? Buffer.from(msg.source.buffer, msg.source.byteOffset, msg.source.byteLength) : msg.source;
  // Each scratch file is named to the pool before it is written (see scratchSink): the pool
  // removes them when this parse fails, times out or the thread dies.
  const sink = sinkFor(sinkOptions, (file) => parentPort!.postMessage({ id: msg.id, file }));
  parseMessage(sourceStream(source), { replyLine, replyHint: msg.replyHint, ...(sink ? { sink } : {}) }).then(
    (result) => parentPort!.postMessage({ id: msg.id, result }),
    (err: unknown) => {
      const code = (err as { code?: unknown } | null)?.code;
      parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err), ...(typeof code === 'string' && /^PARSE_[A-Z0-9_]+$/.test(code) ? { code } : {}) });
    },
  );
});
