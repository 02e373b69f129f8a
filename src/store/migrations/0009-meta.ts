/**
 * Facts the whole deployment shares: when each once-per-interval task (automations, suspended
 * expiry) last ran, so several nodes run it once between them (R71); on PostgreSQL also the
 * reply-token key when the config sets none (no node's disk holds it).
 */
export const sql = `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
-- What each node leads (automations, IMAP accounts), renewed with its heartbeat: deskgate stats shows it.
ALTER TABLE nodes ADD COLUMN leads TEXT NOT NULL DEFAULT '[]';
`;
