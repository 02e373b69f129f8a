import type { Sql, SqlLock, MetaRepo } from '../store/index.js';
import type { Logger } from '../shared/logger.js';

/**
 * Tasks that run once per interval across every node (R71): automations and suspended-mail
 * expiry. A node leads a task while it holds the task's lock (PostgreSQL: a session advisory
 * lock, free the moment the holder dies); the leader also claims each run in the meta table, so
 * a new leader taking over mid-interval does not run it a second time.
 */
export function createLeadership(deps: { sql: Sql; meta: MetaRepo; logger: Logger }) {
  const held = new Map<string, SqlLock>();
  const log = deps.logger.child({ stage: 'leader' });

  async function lead(task: string): Promise<boolean> {
    const current = held.get(task);
    if (current?.held) return true;
    if (current) {
      held.delete(task);
      log.warn({ event: 'leader:lost', code: 'LEADER_LOST', task }, 'lost the lead of a task (database connection ended)');
    }
    const lock = await deps.sql.tryLock(`leader:${task}`);
    if (!lock) return false;
    held.set(task, lock);
    log.info({ event: 'leader:acquired', task }, 'this node leads the task');
    return true;
  }

  return {
    /**
     * Runs `fn` when this node leads `task` and the task is due (last run at least `intervalMs`
     * ago, by anyone); returns whether it ran.
     */
    async runIfDue(task: string, now: Date, intervalMs: number, fn: () => Promise<unknown>): Promise<boolean> {
      if (!(await lead(task))) return false;
      // A little slack, so a leader whose timer fires a few ms early is not skipped a whole interval.
      const dueBefore = new Date(now.getTime() - intervalMs + Math.min(1000, intervalMs / 10)).toISOString();
      if (!(await deps.meta.claimRun(task, now.toISOString(), dueBefore))) return false;
      await fn();
      return true;
    },
    /** The tasks this node leads now (for /healthz and stats). */
    leads(): string[] {
      return [...held].filter(([, l]) => l.held).map(([t]) => t).sort();
    },
    async release(): Promise<void> {
      for (const l of held.values()) await l.release().catch(() => {});
      held.clear();
    },
  };
}

export type Leadership = ReturnType<typeof createLeadership>;
