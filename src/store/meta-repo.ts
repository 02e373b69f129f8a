import type { Sql } from './sql.js';

/**
 * Small facts the whole deployment shares (several nodes on PostgreSQL): the reply-token key when
 * the config sets none, and when each once-per-interval task last ran.
 */
export function createMetaRepo(sql: Sql) {
  return {
    get(key: string): Promise<string | undefined> {
      return sql.value<string>('SELECT value FROM meta WHERE key = ?', [key]);
    },
    /** The stored value, or `value` stored now; every node that races gets the one that won. */
    async getOrCreate(key: string, value: string): Promise<string> {
      await sql.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [key, value]);
      return (await sql.value<string>('SELECT value FROM meta WHERE key = ?', [key]))!;
    },
    async set(key: string, value: string): Promise<void> {
      await sql.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
    },
    /**
     * Claims the run of a task at `now` when it last ran at or before `dueBefore` (or never):
     * true for exactly one caller per interval, whichever node asks.
     */
    async claimRun(task: string, now: string, dueBefore: string): Promise<boolean> {
      const changed = await sql.run(`INSERT INTO meta (key, value) VALUES (?, ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE meta.value <= ?`, [`last_run:${task}`, now, dueBefore]);
      return changed === 1;
    },
  };
}

export type MetaRepo = ReturnType<typeof createMetaRepo>;
