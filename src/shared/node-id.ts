import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Clock } from './clock.js';

/**
 * host:pid:random — names one start of a process in queue claims. The random part makes it
 * unique per start: in a container every start is PID 1 on the same host name.
 */
export function makeNodeId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(6).toString('hex')}`;
}

/** What the heartbeat writes: this process, as the nodes table shows it. */
export interface NodeSelf {
  id: string;
  host: string;
  pid: number;
  startedAt: string;
}

/**
 * The lease behind this process's claims: its heartbeat, renewed every third of the lease by
 * a timer and before each claim. Another process takes the claims back once the heartbeat is
 * older than the lease, so a dead process (or a zombie, or PID 1 of the previous container)
 * holds nothing longer than that.
 */
export interface NodeLease {
  readonly id: string;
  readonly leaseMs: number;
  /** Whether this process ever claimed anything (so stop has claims to give back). */
  readonly started: boolean;
  /** Beats when a beat is due, and starts the timer on first use. Call before claiming. */
  renew(): Promise<void>;
  /** Heartbeats older than this belong to processes that stopped. */
  staleBefore(): string;
  stop(): void;
}

export function createNodeLease(opts: {
  id: string; leaseMs: number; clock: Clock; beat: (self: NodeSelf, now: string) => Promise<void>; onError: (err: unknown) => void;
}): NodeLease {
  const every = Math.max(1000, Math.floor(opts.leaseMs / 3));
  let self: NodeSelf | undefined;
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> | undefined;
  // One beat at a time: the timer and a claim asking together share it.
  const beat = (): Promise<void> => (beating ??= (async () => {
    try {
      const now = opts.clock.now();
      self ??= { id: opts.id, host: hostname(), pid: process.pid, startedAt: now.toISOString() };
      await opts.beat(self, now.toISOString());
      last = now.getTime();
    } finally {
      beating = undefined;
    }
  })());
  return {
    id: opts.id,
    leaseMs: opts.leaseMs,
    get started() { return self !== undefined; },
    async renew() {
      if (!timer) {
        // unref: the heartbeat never keeps a finished CLI command alive.
        timer = setInterval(() => { beat().catch(opts.onError); }, every);
        timer.unref();
      }
      if (opts.clock.now().getTime() - last >= every) await beat();
    },
    staleBefore() {
      return new Date(opts.clock.now().getTime() - opts.leaseMs).toISOString();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
