import type { Sql } from './sql.js';

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
export function createRateCountersRepo(db: Sql): RateCountersRepo {
  // One per database: the intake and outbox repos share it, so expired minutes go once a minute, not once per repo.
  let repo = perDb.get(db);
  if (!repo) perDb.set(db, (repo = build(db)));
  return repo;
}

const perDb = new WeakMap<Sql, RateCountersRepo>();

function build(sql: Sql) {
  const q = {
    bump: `INSERT INTO rate_counters (kind, address, minute, n) VALUES (?, ?, ?, 1)
      ON CONFLICT (kind, address, minute) DO UPDATE SET n = rate_counters.n + 1`,
    sum: `SELECT coalesce(sum(n), 0) FROM rate_counters WHERE kind = ? AND address = ? AND minute BETWEEN ? AND ?`,
    prune: 'DELETE FROM rate_counters WHERE minute < ?',
  };
  let prunedMinute = 0;
  const repo = {
    /** Events of this kind for this address in the hour up to `at`. */
    async count(kind: RateKind, address: string, at: string | Date): Promise<number> {
      const m = minuteOf(at);
      return (await sql.value<number>(q.sum, [kind, address, m - WINDOW_MINUTES, m])) ?? 0;
    },
    /** Counts one event at `at` (in the caller's transaction). */
    async bump(kind: RateKind, address: string, at: string | Date): Promise<void> {
      await sql.run(q.bump, [kind, address, minuteOf(at)]);
    },
    /**
     * Deletes minutes that no count can reach any more, at most once a minute; the claim lease's
     * sweep calls it in autocommit, so no batch transaction holds these rows' locks.
     */
    async prune(at: string | Date): Promise<number> {
      const m = minuteOf(at);
      if (m <= prunedMinute) return 0;
      const n = await sql.run(q.prune, [m - WINDOW_MINUTES]);
      prunedMinute = m;
      return n;
    },
    /** The count before this event, then the event counted: what R43's per-sender check keeps on the message. */
    async countThenBump(kind: RateKind, address: string, at: string | Date): Promise<number> {
      const n = await repo.count(kind, address, at);
      await repo.bump(kind, address, at);
      return n;
    },
  };
  return repo;
}

export type RateCountersRepo = ReturnType<typeof build>;
