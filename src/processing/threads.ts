import type { Worker } from 'node:worker_threads';
import type { LevelWithSilent } from 'pino';
import type { Config } from '../config/index.js';
import { startModuleThread } from '../shared/threads.js';
import { currentSurroundings, type Logger } from '../shared/logger.js';
import { DeskgateError } from '../shared/errors.js';
import { clearHeld } from '../shared/write-gate.js';
import type { MetricsSnapshot } from '../shared/metrics.js';
import type { ProcessingThreadData, ToThread, FromThread } from './protocol.js';

export interface ProcessingThreads {
  readonly count: number;
  /** New intake was committed: every thread looks for mail of its lanes. */
  kick(): void;
  reload(config: Config): void;
  /** The IMAP accounts this node polls, written with thread 0's heartbeat (R71, deskgate stats). */
  setImapLeads(leads: string[]): void;
  /** The leader tasks this node's threads lead (R71). */
  leads(): string[];
  /** Each running thread's metrics, for /metrics. */
  snapshots(): Promise<MetricsSnapshot[]>;
  /** Each thread finishes its batch, hands its mail to the sender, gives back its claims and ends. */
  stop(): Promise<void>;
  /** Ends thread `index` at once, as a crash would (fault tests); it is started again like a crashed one. */
  end(index: number): Promise<void>;
}

interface Slot {
  worker: Worker;
  leads: string[];
  /** Restarts in a row; reset once a thread has run for a minute. */
  restarts: number;
  startedAt: number;
  exited: boolean;
}

const METRICS_TIMEOUT_MS = 2000;
const STOP_TIMEOUT_MS = 60_000;

/**
 * serve's processing (issue 15), as Postfix splits smtpd from cleanup and qmgr: the listener's
 * event loop only receives and commits intake, and `processing.workers` threads do the rest.
 * A thread that dies is started again (1 s back-off doubling to 30 s) and takes back its claims.
 */
export async function startProcessingThreads(config: Config, opts: { nodeId: string; logger: Logger; parseWorkers?: number; writeGate?: SharedArrayBuffer }): Promise<ProcessingThreads> {
  const log = opts.logger.child({ stage: 'processing' });
  const count = config.processing.workers;
  let current = config;
  let imapLeads: string[] = [];
  let stopping = false;
  let metricsId = 0;
  const waiting = new Map<number, (s: MetricsSnapshot) => void>();
  const slots: Slot[] = [];

  const dataFor = (index: number): ProcessingThreadData => ({
    config: current, nodeId: opts.nodeId, index, count,
    log: { level: opts.logger.level as LevelWithSilent, format: current.log.format, surroundings: currentSurroundings() },
    ...(opts.parseWorkers !== undefined ? { parseWorkers: opts.parseWorkers } : {}),
    ...(opts.writeGate ? { writeGate: opts.writeGate } : {}),
  });
  const post = (slot: Slot | undefined, m: ToThread): void => { try { slot?.worker.postMessage(m); } catch { /* ended */ } };

  /** Starts thread `index`; resolves when it is ready, rejects when it could not start. */
  function spawn(index: number, restarts: number): Promise<void> {
    const worker = startModuleThread(import.meta.url, 'thread', dataFor(index));
    const slot: Slot = { worker, leads: [], restarts, startedAt: Date.now(), exited: false };
    slots[index] = slot;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: FromThread) => {
        if (m.t === 'ready') {
          ready = true;
          post(slot, { t: 'imap-leads', leads: imapLeads });
          resolve();
        } else if (m.t === 'failed') {
          reject(new DeskgateError(m.code, `processing thread ${index} could not start: ${m.message}`));
        } else if (m.t === 'leads') {
          slot.leads = m.leads;
        } else if (m.t === 'metrics') {
          waiting.get(m.id)?.(m.snapshot);
        }
      });
      worker.on('error', (err) => log.error({ event: 'processing:thread_error', code: 'PROCESSING_THREAD_ERROR', thread: index, err }, 'processing thread failed'));
      worker.on('exit', (code) => {
        slot.exited = true;
        slot.leads = [];
        if (opts.writeGate) clearHeld(opts.writeGate, index); // it may have died inside a transaction
        if (!ready) reject(new DeskgateError('PROCESSING_THREAD_DIED', `processing thread ${index} ended before it was ready (exit code ${code})`));
        if (stopping || !ready || slots[index] !== slot) return;
        const again = Date.now() - slot.startedAt > 60_000 ? 0 : slot.restarts + 1;
        const delayMs = Math.min(30_000, 1000 * 2 ** Math.min(again, 5));
        log.error({ event: 'processing:thread_died', code: 'PROCESSING_THREAD_DIED', thread: index, exit_code: code, restart_in_ms: delayMs }, 'processing thread ended; starting it again');
        setTimeout(() => {
          if (stopping) return;
          spawn(index, again).catch((err: unknown) => log.error({ event: 'processing:restart_failed', thread: index, err }, 'processing thread could not start again'));
        }, delayMs).unref();
      });
    });
  }

  try {
    await Promise.all(Array.from({ length: count }, (_, i) => spawn(i, 0)));
  } catch (err) {
    stopping = true;
    await Promise.all(slots.map((s) => s?.worker.terminate()));
    throw err;
  }
  log.info({ event: 'processing:started', workers: count }, 'processing threads started');

  return {
    count,
    kick() { for (const s of slots) post(s, { t: 'kick' }); },
    reload(config: Config) { current = config; for (const s of slots) post(s, { t: 'reload', config }); },
    setImapLeads(leads: string[]) {
      if (JSON.stringify(leads) === JSON.stringify(imapLeads)) return;
      imapLeads = leads;
      post(slots[0], { t: 'imap-leads', leads });
    },
    leads: () => slots.flatMap((s) => s?.leads ?? []).sort(),
    async snapshots() {
      return Promise.all(slots.map((s) => new Promise<MetricsSnapshot>((resolve) => {
        const id = ++metricsId;
        const done = (snap: MetricsSnapshot) => { clearTimeout(timer); waiting.delete(id); resolve(snap); };
        const timer = setTimeout(() => done([]), METRICS_TIMEOUT_MS); // a thread busy past that shows its counts next scrape
        waiting.set(id, done);
        post(s, { t: 'metrics', id });
      })));
    },
    async end(index: number) {
      await slots[index]?.worker.terminate();
    },
    async stop() {
      stopping = true;
      await Promise.all(slots.map((s) => new Promise<void>((resolve) => {
        if (!s || s.exited) return resolve();
        // A thread stuck past this is ended: its claims come back with the next start (reclaimOwn) or the lease.
        const timer = setTimeout(() => void s.worker.terminate(), STOP_TIMEOUT_MS);
        s.worker.once('exit', () => { clearTimeout(timer); resolve(); });
        post(s, { t: 'stop' });
      })));
    },
  };
}
