import type { Db } from './db.js';

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
export function createImapStateRepo(db: Db) {
  const s = {
    ensure: db.prepare(`INSERT INTO imap_state (account, updated_at) VALUES (?, ?) ON CONFLICT (account) DO NOTHING`),
    get: db.prepare('SELECT * FROM imap_state WHERE account = ?'),
    all: db.prepare('SELECT * FROM imap_state ORDER BY account'),
    position: db.prepare('UPDATE imap_state SET uidvalidity = @uidvalidity, last_uid = @lastUid, updated_at = @now WHERE account = @account'),
    state: db.prepare('UPDATE imap_state SET state = @state, updated_at = @now WHERE account = @account'),
    polled: db.prepare('UPDATE imap_state SET state = @state, last_poll_at = @now, updated_at = @now WHERE account = @account'),
    error: db.prepare(`UPDATE imap_state SET state = 'error', last_error = @error, last_error_at = @now, updated_at = @now WHERE account = @account`),
    count: db.prepare('UPDATE imap_state SET imported = imported + @imported, duplicates = duplicates + @duplicates, updated_at = @now WHERE account = @account'),
  };
  return {
    get(account: string, now: string): ImapState {
      s.ensure.run(account, now);
      return s.get.get(account) as ImapState;
    },
    all(): ImapState[] { return s.all.all() as ImapState[]; },
    savePosition(account: string, uidvalidity: string, lastUid: number, now: string): void { s.position.run({ account, uidvalidity, lastUid, now }); },
    setState(account: string, state: string, now: string): void { s.state.run({ account, state, now }); },
    polled(account: string, state: string, now: string): void { s.polled.run({ account, state, now }); },
    error(account: string, error: string, now: string): void { s.error.run({ account, error, now }); },
    count(account: string, imported: number, duplicates: number, now: string): void { s.count.run({ account, imported, duplicates, now }); },
  };
}

export type ImapStateRepo = ReturnType<typeof createImapStateRepo>;
