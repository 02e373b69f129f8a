/** Initial schema. Times are ISO 8601 UTC strings; JSON columns hold arrays of strings. */
export const sql = `
CREATE TABLE intake (
  id INTEGER PRIMARY KEY,
  dedupe_key TEXT NOT NULL UNIQUE,          -- R7: Message-ID, or sha256 of the raw bytes without one
  message_id TEXT,
  raw_path TEXT,                            -- relative to data_dir; NULL when the bytes are in intake_raw
  raw_size INTEGER NOT NULL,
  raw_sha256 TEXT NOT NULL,
  via TEXT NOT NULL,                        -- smtp | imap | pipe
  envelope_from TEXT,
  envelope_to TEXT NOT NULL,                -- JSON: support addresses it was accepted for
  remote_ip TEXT,
  helo TEXT,
  status TEXT NOT NULL DEFAULT 'received',  -- received | processing | done | failed | suspended
  attempts INTEGER NOT NULL DEFAULT 0,
  claimed_by TEXT,
  claimed_at TEXT,
  error_code TEXT,
  error TEXT,
  ticket_id INTEGER,
  comment_id INTEGER,
  received_at TEXT NOT NULL,
  processed_at TEXT
);
CREATE INDEX intake_status ON intake(status, id);

-- Raw bytes of messages small enough to commit inside the intake transaction (one fsync for
-- a whole group commit instead of four file operations per message).
CREATE TABLE intake_raw (
  intake_id INTEGER PRIMARY KEY REFERENCES intake(id),
  bytes BLOB NOT NULL
);

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  name TEXT,
  created_at TEXT NOT NULL
);

CREATE TABLE tickets (
  id INTEGER PRIMARY KEY,
  subject TEXT NOT NULL,
  status TEXT NOT NULL,
  requester_id INTEGER NOT NULL REFERENCES users(id),
  submitter_id INTEGER REFERENCES users(id),
  assignee_id INTEGER REFERENCES users(id),
  group_name TEXT,
  recipient TEXT NOT NULL,
  via TEXT NOT NULL,
  follow_up_of INTEGER REFERENCES tickets(id),
  tags TEXT NOT NULL DEFAULT '[]',
  warnings TEXT NOT NULL DEFAULT '[]',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  status_changed_at TEXT NOT NULL,
  assigned_at TEXT,
  solved_at TEXT
);
CREATE INDEX tickets_status ON tickets(status, id);

CREATE TABLE ticket_ccs (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  added_at TEXT NOT NULL,
  PRIMARY KEY (ticket_id, user_id)
);

CREATE TABLE ticket_followers (
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  added_at TEXT NOT NULL,
  PRIMARY KEY (ticket_id, user_id)
);

CREATE TABLE comments (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  author_id INTEGER NOT NULL REFERENCES users(id),
  author_role TEXT NOT NULL,
  public INTEGER NOT NULL,
  visibility_rule TEXT NOT NULL,
  body TEXT NOT NULL,
  full_body TEXT,
  html_body TEXT,
  flags TEXT NOT NULL DEFAULT '[]',
  message_id TEXT,
  to_addrs TEXT NOT NULL DEFAULT '[]',
  cc_addrs TEXT NOT NULL DEFAULT '[]',
  auth TEXT,
  intake_id INTEGER REFERENCES intake(id),
  via TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX comments_ticket ON comments(ticket_id, id);

CREATE TABLE attachments (
  id INTEGER PRIMARY KEY,
  comment_id INTEGER NOT NULL REFERENCES comments(id),
  filename TEXT,
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,                     -- content lives at attachments/<sha256[0:2]>/<sha256>
  content_id TEXT,
  inline INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX attachments_comment ON attachments(comment_id);

-- R10: every Message-ID deskgate has seen (inbound) or sent (outbound), to thread replies.
CREATE TABLE message_ids (
  message_id TEXT PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  direction TEXT NOT NULL,                  -- in | out
  created_at TEXT NOT NULL
);
CREATE INDEX message_ids_ticket ON message_ids(ticket_id);

CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets(id),
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  rule TEXT,
  change TEXT NOT NULL,
  value TEXT
);
CREATE INDEX audit_ticket ON audit(ticket_id, id);
`;
