/** R59: the durable outbound queue, written in the same transaction as the update that causes it. */
export const sql = `
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  trigger TEXT NOT NULL,
  status TEXT NOT NULL,                    -- queued | deferred | sent | failed | held
  from_addr TEXT NOT NULL,
  from_name TEXT,
  reply_to TEXT,
  to_addrs TEXT NOT NULL,                  -- JSON [{email, name}]
  cc_addrs TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  message_id TEXT NOT NULL UNIQUE,         -- fixed at enqueue: the same on every attempt
  in_reply_to TEXT,
  refs TEXT NOT NULL DEFAULT '[]',
  headers TEXT NOT NULL DEFAULT '{}',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  last_error TEXT,
  claimed_by TEXT,
  claimed_at TEXT,
  created_at TEXT NOT NULL,
  sent_at TEXT
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_ticket ON outbox(ticket_id);

-- R43: notifications per recipient and hour.
CREATE TABLE outbox_recipients (
  outbox_id INTEGER NOT NULL REFERENCES outbox(id),
  address TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX outbox_recipients_address ON outbox_recipients(address, created_at);
`;
