import type { Worker } from 'node:worker_threads';
import { rm } from 'node:fs/promises';
import { startModuleThread } from '../shared/threads.js';
import { DeskgateError } from '../shared/errors.js';
import { parseMessage, type ParsedMessage } from './parse-message.js';
import { sinkFor, parseCleaning } from './file-sink.js';
import { sourceStream, sourceSize, type MessageSource } from './message-source.js';

export type { MessageSource };

export interface MessageParser {
  parse(source: MessageSource, hints?: { replyHint?: boolean }): Promise<ParsedMessage>;
  close(): Promise<void>;
}

export interface ParserOptions {
  /** Parser threads; 0 parses inline on the caller's thread (the CLI, tests). */
  workers: number;
  replyLine: string;
  /** Per message, counted from when its thread starts it (never the time spent queued). */
  timeoutMs?: number;
  /** V8 heap limit (old generation) of each thread; a message that needs more fails alone. */
  maxMemoryMb?: number;
  /**
   * The content store's data_dir (SQLite): attachments are streamed into it while they are
   * decoded and come back without their bytes. Without it they come back in `content`.
   */
  attachmentsDir?: string;
  /**
   * PostgreSQL: a directory of this node's where attachments stream into scratch files while
   * decoded; they come back as `file` for the processing stage to store and remove.
   */
  scratchDir?: string;
}

interface Job {
  id: number;
  source: MessageSource;
  replyHint: boolean;
  resolve: (m: ParsedMessage) => void;
  reject: (e: unknown) => void;
  /** Threads that died under this job for a reason other than its own timeout or memory. */
  deaths: number;
  /** Scratch files its thread started (PostgreSQL): removed when the job fails or is run again. */
  files: string[];
}

interface Slot {
  worker: Worker;
  job: Job | null;
  timer: NodeJS.Timeout | undefined;
  /** Set once the thread is ended or has died, so its late events are ignored. */
  gone: boolean;
}

type WorkerReply = { id: number; started: true } | { id: number; file: string } | { id: number; result: ParsedMessage } | { id: number; error: string; code?: string };

/** A failed (or retried) job's scratch files: the thread that wrote them may have been killed mid-write. */
function dropFiles(job: Job): void {
  for (const f of job.files.splice(0)) void rm(f, { force: true }).catch(() => {});
}

function newWorker(workerData: unknown, maxMemoryMb: number | undefined): Worker {
  return startModuleThread(import.meta.url, 'parse-worker', workerData, maxMemoryMb === undefined ? undefined : { maxOldGenerationSizeMb: maxMemoryMb });
}

/** A thread that dies under a message for no reason of its own gets the message once more. */
const MAX_DEATHS = 2;

/**
 * Parses in `workers` threads (0: inline). Each thread parses one message at a time and the pool
 * keeps the queue, so a hostile message costs only itself: one that runs past timeoutMs
 * (PARSE_TIMEOUT) or past the thread's memory (PARSE_TOO_BIG) ends its thread and fails alone,
 * recorded as a failed intake (R8); the messages behind it go to a fresh thread.
 */
export function createMessageParser(opts: ParserOptions): MessageParser {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  if (opts.workers === 0) {
    const sink = sinkFor(opts);
    return {
      parse: (source, hints) => parseCleaning(sink, (s) => parseMessage(sourceStream(source), { replyLine: opts.replyLine, ...hints, ...(s ? { sink: s } : {}) })),
      close: async () => {},
    };
  }
  let nextId = 1;
  let closed = false;
  const queue: Job[] = [];
  // Threads start when there is work, so a thread that dies at boot is not respawned in a loop.
  const slots: (Slot | undefined)[] = Array.from({ length: opts.workers }, () => undefined);

  function settle(slot: Slot): Job | null {
    const job = slot.job;
    clearTimeout(slot.timer);
    slot.job = null;
    slot.timer = undefined;
    slot.worker.unref();
    return job;
  }

  /** Ends a thread (timeout, death, close); its slot is refilled by the next pump. */
  function retire(index: number, slot: Slot): void {
    slot.gone = true;
    if (slots[index] === slot) slots[index] = undefined;
    void slot.worker.terminate();
  }

  function onReply(index: number, slot: Slot, msg: WorkerReply): void {
    const job = slot.job;
    if (slot.gone || !job || msg.id !== job.id) return;
    if ('started' in msg) {
      slot.timer = setTimeout(() => onTimeout(index, slot), timeoutMs);
      return;
    }
    if ('file' in msg) {
      job.files.push(msg.file);
      return;
    }
    settle(slot);
    if ('error' in msg) {
      dropFiles(job);
      job.reject(new DeskgateError(msg.code ?? 'PARSE_MIME_INVALID', `cannot parse message: ${msg.error}`, { context: { bytes: sourceSize(job.source) } }));
    } else {
      // Structured clone turns Buffers into plain Uint8Arrays.
      for (const a of msg.result.attachments) if (a.content) a.content = Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength);
      job.resolve(msg.result);
    }
    pump();
  }

  function onTimeout(index: number, slot: Slot): void {
    const job = settle(slot);
    retire(index, slot);
    if (job) dropFiles(job);
    job?.reject(new DeskgateError('PARSE_TIMEOUT', `parsing took longer than ${timeoutMs} ms`, { context: { bytes: sourceSize(job.source), timeout_ms: timeoutMs } }));
    pump();
  }

  /** 'error' (with the reason) is followed by 'exit': handle the first only. */
  function onDeath(index: number, slot: Slot, err: Error & { code?: string }): void {
    if (slot.gone) return;
    const job = settle(slot);
    retire(index, slot);
    if (job) dropFiles(job);
    if (job && !closed) {
      if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        job.reject(new DeskgateError('PARSE_TOO_BIG', `parsing needs more than the parser's ${opts.maxMemoryMb} MB of memory`, { context: { bytes: sourceSize(job.source), memory_mb: opts.maxMemoryMb } }));
      } else if (++job.deaths >= MAX_DEATHS) {
        job.reject(new DeskgateError('PARSE_WORKER_DIED', `parser thread stopped: ${err.message}`, { context: { bytes: sourceSize(job.source) } }));
      } else {
        queue.unshift(job);
      }
    }
    pump();
  }

  function spawn(index: number): Slot {
    const worker = newWorker({ replyLine: opts.replyLine, attachmentsDir: opts.attachmentsDir, scratchDir: opts.scratchDir }, opts.maxMemoryMb);
    const slot: Slot = { worker, job: null, timer: undefined, gone: false };
    worker.on('message', (msg: WorkerReply) => onReply(index, slot, msg));
    worker.on('error', (err) => onDeath(index, slot, err));
    worker.on('exit', (code) => onDeath(index, slot, new Error(`exit code ${code}`)));
    worker.unref();
    return slot;
  }

  /** Hands queued messages to idle threads, oldest first. */
  function pump(): void {
    for (let i = 0; i < slots.length && queue.length > 0 && !closed; i++) {
      if (slots[i]?.job) continue;
      const slot = slots[i] ?? (slots[i] = spawn(i));
      const job = queue.shift()!;
      slot.job = job;
      slot.worker.ref(); // a busy thread keeps the process alive until it answers; an idle one does not
      // The timer starts when the thread says it began (see onReply), so boot time is not counted.
      slot.worker.postMessage({ id: job.id, source: job.source, replyHint: job.replyHint });
    }
  }

  return {
    parse(source: MessageSource, hints: { replyHint?: boolean } = {}): Promise<ParsedMessage> {
      if (closed) return Promise.reject(new DeskgateError('PARSE_CLOSED', 'the parser is closed'));
      return new Promise((resolve, reject) => {
        queue.push({ id: nextId++, source, replyHint: hints.replyHint ?? false, resolve, reject, deaths: 0, files: [] });
        pump();
      });
    },
    async close(): Promise<void> {
      closed = true;
      const unfinished = queue.splice(0);
      const ending: Promise<number>[] = [];
      slots.forEach((slot, i) => {
        if (!slot) return;
        const job = settle(slot);
        if (job) unfinished.push(job);
        slot.gone = true;
        slots[i] = undefined;
        ending.push(slot.worker.terminate());
      });
      for (const job of unfinished) job.reject(new DeskgateError('PARSE_CLOSED', 'the parser was closed before this message was parsed'));
      await Promise.all(ending);
    },
  };
}

/**
 * Splits items, in order, into groups whose sizes add up to at most maxBytes (an item larger
 * than that forms a group alone), so a caller that reads and parses a group at once holds a
 * bounded number of bytes however many items it claimed.
 */
export function byteBatches<T>(items: readonly T[], sizeOf: (item: T) => number, maxBytes: number): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (group.length > 0 && bytes + size > maxBytes) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(item);
    bytes += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}
