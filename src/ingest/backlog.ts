import type { Logger } from '../shared/logger.js';

/**
 * processing.backlog_high_water (issue 15): how much accepted mail waits to be processed, and
 * whether that is past the mark. The count is read from the store every `everyMs` (an indexed
 * count, off the SMTP path) and each commit in between adds to it, so the gate is never late by
 * more than one interval's worth of mail.
 */
export function createBacklogGate(deps: { pending: () => Promise<number>; highWater: number; logger: Logger; everyMs?: number }) {
  const log = deps.logger.child({ stage: 'ingest' });
  let counted = 0;
  let since = 0;
  let full = false;
  let timer: NodeJS.Timeout | undefined;
  let reading: Promise<void> | undefined;

  const check = (): void => {
    const now = counted + since >= deps.highWater;
    if (now === full) return;
    full = now;
    if (full) log.warn({ event: 'intake:backlog_full', code: 'INTAKE_BACKLOG_FULL', backlog: counted + since, high_water: deps.highWater }, 'processing backlog past processing.backlog_high_water: new mail is answered 451 4.3.2 until it drains');
    else log.info({ event: 'intake:backlog_ok', backlog: counted + since, high_water: deps.highWater }, 'processing backlog below the high-water mark again: accepting mail');
  };
  const refresh = (): Promise<void> => (reading ??= (async () => {
    try {
      const n = await deps.pending();
      counted = n;
      since = 0;
      check();
    } catch { /* the store is down: intake fails on its own, the next read tries again */ } finally {
      reading = undefined;
    }
  })());

  return {
    highWater: deps.highWater,
    /** Messages waiting (as of the last read plus those committed since). */
    get size(): number { return counted + since; },
    get full(): boolean { return full; },
    /** `n` messages were committed to intake. */
    committed(n: number): void { since += n; check(); },
    async start(): Promise<void> {
      await refresh();
      timer ??= setInterval(() => void refresh(), deps.everyMs ?? 500);
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

export type BacklogGate = ReturnType<typeof createBacklogGate>;
