import type { Db } from './db.js';

/** What a counter counts (R43): notifications queued to an address, messages received from one. */
export type RateKind = 'notify' | 'sender';

const MINUTE_MS = 60_000;
/**
 * The window is the current minute and the 60 before it: an event counts for between 60 and 61
 * minutes after it happened (exact to the minute, never shorter than an hour).
 */
const WINDOW_MINUTES = 60;

const minuteOf = (at: string | Date) => Math.floor((typeof at === 'string' ? Date.parse(at) : at.getTime()) / MINUTE_MS);

/**
 * R43's rolling-hour counts, kept incrementally: one row per (kind, address, minute), bumped in
 * the caller's transaction (the outbox insert, the intake insert). A count reads at most 61 rows
 * by primary key, so it costs the same whatever the limit or the traffic; expired minutes are
 * deleted once a minute through the minute index.
 */
export function createRateCountersRepo(db: Db): RateCountersRepo {
  // One per database: the intake and outbox repos share it, so expired minutes go once a minute, not once per repo.
  let repo = perDb.get(db);
  if (!repo) perDb.set(db, (repo = build(db)));
  return repo;
}

const perDb = new WeakMap<Db, RateCountersRepo>();

function build(db: Db) {
  const s = {
    bump: db.prepare(`INSERT INTO rate_counters (kind, address, minute, n) VALUES (?, ?, ?, 1)
      ON CONFLICT (kind, address, minute) DO UPDATE SET n = n + 1`),
    sum: db.prepare(`SELECT coalesce(sum(n), 0) FROM rate_counters WHERE kind = ? AND address = ? AND minute BETWEEN ? AND ?`).pluck(),
    prune: db.prepare('DELETE FROM rate_counters WHERE minute < ?'),
  };
  let prunedMinute = 0;
  return {
    /** Events of this kind for this address in the hour up to `at`. */
    count(kind: RateKind, address: string, at: string | Date): number {
      const m = minuteOf(at);
      return s.sum.get(kind, address, m - WINDOW_MINUTES, m) as number;
    },
    /** Counts one event at `at`. Expired minutes go at the first bump of each new minute. */
    bump(kind: RateKind, address: string, at: string | Date): void {
      const m = minuteOf(at);
      s.bump.run(kind, address, m);
      if (m > prunedMinute) {
        prunedMinute = m;
        s.prune.run(m - WINDOW_MINUTES);
      }
    },
    /** The count before this event, then the event counted: what R43's per-sender check keeps on the message. */
    countThenBump(kind: RateKind, address: string, at: string | Date): number {
      const n = this.count(kind, address, at);
      this.bump(kind, address, at);
      return n;
    },
  };
}

export type RateCountersRepo = ReturnType<typeof build>;
