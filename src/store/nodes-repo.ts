import type { Db } from './db.js';

export interface NodeInfo {
  id: string;
  host: string;
  pid: number;
  started_at: string;
  last_seen: string;
}

/**
 * The processes that hold claims (intake, outbox). A process names itself by a per-start id
 * and renews `last_seen` while it runs; a claim whose holder has not been seen for a lease is
 * taken back. The PID is kept for people reading the table, never to decide anything: in a
 * container every start is PID 1.
 */
export function createNodesRepo(db: Db) {
  const s = {
    beat: db.prepare(`INSERT INTO nodes (id, host, pid, started_at, last_seen) VALUES (@id, @host, @pid, @startedAt, @now)
      ON CONFLICT (id) DO UPDATE SET last_seen = @now`),
    remove: db.prepare('DELETE FROM nodes WHERE id = ?'),
    live: db.prepare('SELECT id FROM nodes WHERE last_seen >= ?').pluck(),
    prune: db.prepare('DELETE FROM nodes WHERE last_seen < ? AND id <> ?'),
    list: db.prepare('SELECT id, host, pid, started_at, last_seen FROM nodes ORDER BY started_at'),
  };
  return {
    /** Registers the process on its first beat, then renews its heartbeat. */
    beat(n: { id: string; host: string; pid: number; startedAt: string }, now: string): void {
      s.beat.run({ ...n, now });
    },
    /** A clean stop: the process is gone at once. */
    remove(id: string): void {
      s.remove.run(id);
    },
    /** Ids whose heartbeat is not older than `staleBefore`. */
    liveIds(staleBefore: string): Set<string> {
      return new Set(s.live.all(staleBefore) as string[]);
    },
    /** Forgets processes not seen since `staleBefore` (not `self`); returns how many. */
    prune(staleBefore: string, self: string): number {
      return s.prune.run(staleBefore, self).changes;
    },
    list(): NodeInfo[] {
      return s.list.all() as NodeInfo[];
    },
  };
}

export type NodesRepo = ReturnType<typeof createNodesRepo>;
