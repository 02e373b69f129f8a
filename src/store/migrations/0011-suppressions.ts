/**
 * R67/R68: what bounces have said about each address. `suppressed` 1 means no notifications
 * until `deskgate suppressions remove` or a new inbound message from the address; soft bounces
 * in a row count toward outbound.soft_bounce_limit. One row per address (R2: lower-cased).
 */
export const sql = `
CREATE TABLE suppressions (
  address TEXT PRIMARY KEY,
  suppressed INTEGER NOT NULL DEFAULT 0,
  reason TEXT,                            -- hard_bounce | soft_bounce_limit
  code TEXT,                              -- the last bounce's status (5.1.1)
  diagnostic TEXT,
  bounces INTEGER NOT NULL DEFAULT 0,     -- bounces since the address last wrote (or was removed)
  soft_in_row INTEGER NOT NULL DEFAULT 0,
  since TEXT,                             -- when it was suppressed
  updated_at TEXT NOT NULL
);
`;
