/** Per IMAP account and mailbox: where polling got to, and how it is doing (deskgate imap status). */
export const sql = `
CREATE TABLE imap_state (
  account TEXT PRIMARY KEY,               -- user@host:port/mailbox
  uidvalidity TEXT,
  last_uid INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL DEFAULT 'starting', -- starting | connected | idle | polling | error
  last_poll_at TEXT,
  last_error TEXT,
  last_error_at TEXT,
  imported INTEGER NOT NULL DEFAULT 0,
  duplicates INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL
);
`;
