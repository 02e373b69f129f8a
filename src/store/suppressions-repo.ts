import type { Sql } from './sql.js';
import type { SuppressionState } from '../shared/domain.js';

export type { SuppressionState };

/** The Suppression JSON of interfaces.md (`deskgate suppressions list`). */
export interface Suppression { address: string; reason: string; code: string | null; bounces: number; since: string }

type Raw = Record<string, unknown>;
const toState = (r: Raw): SuppressionState => ({
  address: r.address as string, suppressed: Number(r.suppressed) === 1, reason: r.reason as string | null, code: r.code as string | null,
  diagnostic: r.diagnostic as string | null, bounces: Number(r.bounces), softInRow: Number(r.soft_in_row), since: r.since as string | null,
  lastBounce: r.updated_at as string | null,
});

/** The suppression list (R68): who gets no notifications, and the bounce counts that lead there. */
export function createSuppressionsRepo(sql: Sql) {
  const q = {
    put: `INSERT INTO suppressions (address, suppressed, reason, code, diagnostic, bounces, soft_in_row, since, updated_at)
      VALUES (@address, @suppressed, @reason, @code, @diagnostic, @bounces, @softInRow, @since, @now)
      ON CONFLICT (address) DO UPDATE SET suppressed = excluded.suppressed, reason = excluded.reason, code = excluded.code,
        diagnostic = excluded.diagnostic, bounces = excluded.bounces, soft_in_row = excluded.soft_in_row, since = excluded.since, updated_at = excluded.updated_at`,
    list: `SELECT * FROM suppressions WHERE suppressed = 1 ORDER BY since, address`,
    remove: `DELETE FROM suppressions WHERE address = ? RETURNING suppressed`,
  };
  const among = async (addresses: readonly string[], onlySuppressed: boolean, lock = false): Promise<Map<string, SuppressionState>> => {
    const unique = [...new Set(addresses)];
    if (unique.length === 0) return new Map();
    // PostgreSQL: a bounce reads counts it then writes; the rows stay locked until it commits (R71).
    const forUpdate = lock && sql.dialect === 'postgres' ? ' FOR UPDATE' : '';
    const rows = await sql.all<Raw>(`SELECT * FROM suppressions WHERE address IN (${unique.map(() => '?').join(', ')})${onlySuppressed ? ' AND suppressed = 1' : ''}${forUpdate}`, unique);
    return new Map(rows.map((r) => [r.address as string, toState(r)]));
  };
  return {
    /** The stored state of each address that has one, locked for the caller's transaction (to count a bounce). */
    states: (addresses: readonly string[]) => among(addresses, false, true),
    /** Those of `addresses` that are suppressed: one read for a whole notification run. */
    suppressedAmong: (addresses: readonly string[]) => among(addresses, true),
    async put(s: SuppressionState, now: string): Promise<void> {
      const { lastBounce: _written, ...state } = s; // updated_at is now
      await sql.run(q.put, { ...state, suppressed: s.suppressed ? 1 : 0, now });
    },
    async list(): Promise<Suppression[]> {
      return (await sql.all<Raw>(q.list)).map(toState).map((s) => ({ address: s.address, reason: s.reason ?? 'hard_bounce', code: s.code, bounces: s.bounces, since: s.since ?? '' }));
    },
    /**
     * Forgets the address (`suppressions remove`, or R68: it wrote to us, so it is reachable
     * again): null when nothing was kept, else whether it was suppressed.
     */
    async remove(address: string): Promise<boolean | null> {
      const row = await sql.get<{ suppressed: number }>(q.remove, [address]);
      return row ? Number(row.suppressed) === 1 : null;
    },
  };
}

export type SuppressionsRepo = ReturnType<typeof createSuppressionsRepo>;
