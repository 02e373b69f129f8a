import type { Sql } from './sql.js';

export interface ImapState {
  account: string;
  uidvalidity: string | null;
  last_uid: number;
  state: string;
  last_poll_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
  imported: number;
  duplicates: number;
  updated_at: string;
}

/** Where each IMAP mailbox's polling got to (UIDVALIDITY, last UID) and its health. */
export function createImapStateRepo(sql: Sql) {
  const q = {
    ensure: `INSERT INTO imap_state (account, updated_at) VALUES (?, ?) ON CONFLICT (account) DO NOTHING`,
    get: 'SELECT * FROM imap_state WHERE account = ?',
    all: 'SELECT * FROM imap_state ORDER BY account',
    position: 'UPDATE imap_state SET uidvalidity = @uidvalidity, last_uid = @lastUid, updated_at = @now WHERE account = @account',
    state: 'UPDATE imap_state SET state = @state, updated_at = @now WHERE account = @account',
    polled: 'UPDATE imap_state SET state = @state, last_poll_at = @now, updated_at = @now WHERE account = @account',
    error: `UPDATE imap_state SET state = 'error', last_error = @error, last_error_at = @now, updated_at = @now WHERE account = @account`,
    count: 'UPDATE imap_state SET imported = imported + @imported, duplicates = duplicates + @duplicates, updated_at = @now WHERE account = @account',
  };
  return {
    async get(account: string, now: string): Promise<ImapState> {
      await sql.run(q.ensure, [account, now]);
      return (await sql.get<ImapState>(q.get, [account]))!;
    },
    all(): Promise<ImapState[]> { return sql.all<ImapState>(q.all); },
    async savePosition(account: string, uidvalidity: string, lastUid: number, now: string): Promise<void> { await sql.run(q.position, { account, uidvalidity, lastUid, now }); },
    async setState(account: string, state: string, now: string): Promise<void> { await sql.run(q.state, { account, state, now }); },
    async polled(account: string, state: string, now: string): Promise<void> { await sql.run(q.polled, { account, state, now }); },
    async error(account: string, error: string, now: string): Promise<void> { await sql.run(q.error, { account, error, now }); },
    async count(account: string, imported: number, duplicates: number, now: string): Promise<void> { await sql.run(q.count, { account, imported, duplicates, now }); },
  };
}

export type ImapStateRepo = ReturnType<typeof createImapStateRepo>;
