/** R59: what to do after a failed delivery attempt. Pure. */
export type RetryDecision = { kind: 'failed'; reason: string } | { kind: 'deferred'; next: Date };

export interface RetrySettings {
  initialMs: number;
  maxMs: number;
  forMs: number;
}

/** 5xx is permanent; anything else (4xx, network, timeout) is retried with doubling delays. */
export function afterFailure(opts: { responseCode: number | undefined; attempts: number; createdAt: Date; now: Date; error: string }, s: RetrySettings): RetryDecision {
  if (opts.responseCode !== undefined && opts.responseCode >= 500 && opts.responseCode < 600) return { kind: 'failed', reason: opts.error };
  const delay = Math.min(s.initialMs * 2 ** Math.max(0, opts.attempts - 1), s.maxMs);
  const next = new Date(opts.now.getTime() + delay);
  if (next.getTime() - opts.createdAt.getTime() > s.forMs) {
    return { kind: 'failed', reason: `gave up after ${Math.round((opts.now.getTime() - opts.createdAt.getTime()) / 60_000)} min (outbound.retry_for): ${opts.error}` };
  }
  return { kind: 'deferred', next };
}
