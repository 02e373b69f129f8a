import type { Sql } from './sql.js';

export interface NodeInfo {
  id: string;
  host: string;
  pid: number;
  started_at: string;
  last_seen: string;
  /** What the node leads: `automations`, `suspended-expiry`, `imap:<account>` (R71). */
  leads: string[];
}

/**
 * The processes that hold claims (intake, outbox). A process names itself by a per-start id
 * and renews `last_seen` while it runs; a claim whose holder has not been seen for a lease is
 * taken back. The PID is kept for people reading the table, never to decide anything: in a
 * container every start is PID 1.
 */
export function createNodesRepo(sql: Sql) {
  const q = {
    beat: `INSERT INTO nodes (id, host, pid, started_at, last_seen, leads) VALUES (@id, @host, @pid, @startedAt, @now, @leads)
      ON CONFLICT (id) DO UPDATE SET last_seen = @now, leads = @leads`,
    remove: 'DELETE FROM nodes WHERE id = ?',
    live: 'SELECT id FROM nodes WHERE last_seen >= ?',
    prune: 'DELETE FROM nodes WHERE last_seen < ? AND id <> ?',
    list: 'SELECT id, host, pid, started_at, last_seen, leads FROM nodes ORDER BY started_at',
  };
  return {
    /** Registers the process on its first beat, then renews its heartbeat. */
    async beat(n: { id: string; host: string; pid: number; startedAt: string }, now: string, leads: readonly string[] = []): Promise<void> {
      await sql.run(q.beat, { id: n.id, host: n.host, pid: n.pid, startedAt: n.startedAt, now, leads: JSON.stringify(leads) });
    },
    /** A clean stop: the process is gone at once. */
    async remove(id: string): Promise<void> {
      await sql.run(q.remove, [id]);
    },
    /** Ids whose heartbeat is not older than `staleBefore`. */
    async liveIds(staleBefore: string): Promise<Set<string>> {
      return new Set(await sql.column<string>(q.live, [staleBefore]));
    },
    /** Forgets processes not seen since `staleBefore` (not `self`); returns how many. */
    prune(staleBefore: string, self: string): Promise<number> {
      return sql.run(q.prune, [staleBefore, self]);
    },
    async list(): Promise<NodeInfo[]> {
      return (await sql.all<Omit<NodeInfo, 'leads'> & { leads: string }>(q.list)).map((n) => ({ ...n, leads: JSON.parse(n.leads) as string[] }));
    },
  };
}

export type NodesRepo = ReturnType<typeof createNodesRepo>;
