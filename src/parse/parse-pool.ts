import { Worker } from 'node:worker_threads';
import { DeskgateError } from '../shared/errors.js';
import { parseMessage, type ParsedMessage } from './parse-message.js';

export interface MessageParser {
  parse(raw: Buffer, hints?: { replyHint?: boolean }): Promise<ParsedMessage>;
  close(): Promise<void>;
}

interface Job {
  id: number;
  resolve: (m: ParsedMessage) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
  dead: boolean;
}

// Built (.js): the worker file runs as is. From source under tsx (tests): the worker registers
// tsx's loader first, since loader hooks are not inherited by worker threads on Node 20.
const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSource ? './parse-worker.ts' : './parse-worker.js', import.meta.url);

function newWorker(workerData: unknown): Worker {
  if (!fromSource) return new Worker(workerUrl, { workerData });
  const boot = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(workerUrl.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/**
 * Parses in `workers` threads (0: inline). A parse that takes longer than timeoutMs (hostile
 * MIME) ends its worker and fails with PARSE_TIMEOUT, which the pipeline records as a failed
 * intake (R8) rather than hanging the queue.
 */
export function createMessageParser(opts: { workers: number; replyLine: string; timeoutMs?: number }): MessageParser {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  if (opts.workers === 0) {
    return { parse: (raw, hints) => parseMessage(raw, { replyLine: opts.replyLine, ...hints }), close: async () => {} };
  }
  let nextId = 1;
  let closed = false;
  const slots: Slot[] = [];

  function spawn(index: number): Slot {
    const worker = newWorker({ replyLine: opts.replyLine });
    const slot: Slot = { worker, jobs: new Map(), dead: false };
    worker.on('message', (msg: { id: number; result?: ParsedMessage; error?: string }) => {
      const job = slot.jobs.get(msg.id);
      if (!job) return;
      slot.jobs.delete(msg.id);
      clearTimeout(job.timer);
      if (msg.error !== undefined) job.reject(new DeskgateError('PARSE_MIME_INVALID', `cannot parse message: ${msg.error}`));
      else {
        for (const a of msg.result!.attachments) a.content = Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength);
        job.resolve(msg.result!);
      }
    });
    const fail = (err: Error) => {
      if (slot.dead) return; // 'error' is followed by 'exit': replace the worker once
      slot.dead = true;
      for (const job of slot.jobs.values()) {
        clearTimeout(job.timer);
        job.reject(new DeskgateError('PARSE_WORKER_DIED', `parser thread stopped: ${err.message}`));
      }
      slot.jobs.clear();
      if (!closed) slots[index] = spawn(index);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => { if (!closed) fail(new Error(`exit code ${code}`)); });
    worker.unref();
    return slot;
  }
  for (let i = 0; i < opts.workers; i++) slots.push(spawn(i));

  return {
    parse(raw: Buffer, hints: { replyHint?: boolean } = {}): Promise<ParsedMessage> {
      const index = slots.reduce((best, s, i) => (s.jobs.size < slots[best]!.jobs.size ? i : best), 0);
      const slot = slots[index]!;
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          slot.jobs.delete(id);
          reject(new DeskgateError('PARSE_TIMEOUT', `parsing took longer than ${timeoutMs} ms`));
          void slot.worker.terminate(); // 'exit' respawns it and fails the other jobs it held
        }, timeoutMs);
        slot.jobs.set(id, { id, resolve, reject, timer });
        slot.worker.postMessage({ id, raw, replyHint: hints.replyHint ?? false });
      });
    },
    async close(): Promise<void> {
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
