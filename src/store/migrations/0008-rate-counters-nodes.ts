/**
 * R43 counts kept incrementally (per address and minute) instead of scanning rows per check,
 * and R71-style claims: each running process is a row with a heartbeat, and a claim is valid
 * while its holder's heartbeat is fresh (a PID says nothing in a container).
 * The last hour's counts are carried over, so an upgrade does not reset anyone's limit.
 */
export const sql = `
CREATE TABLE rate_counters (
  kind TEXT NOT NULL,
  address TEXT NOT NULL,
  minute INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (kind, address, minute)
) WITHOUT ROWID;
CREATE INDEX rate_counters_minute ON rate_counters(minute);

INSERT INTO rate_counters (kind, address, minute, n)
  SELECT 'notify', address, CAST(strftime('%s', created_at) AS INTEGER) / 60, count(*) FROM outbox_recipients
  WHERE held = 0 AND created_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-61 minutes') GROUP BY 1, 2, 3;
INSERT INTO rate_counters (kind, address, minute, n)
  SELECT 'sender', sender, CAST(strftime('%s', received_at) AS INTEGER) / 60, count(*) FROM intake
  WHERE sender IS NOT NULL AND received_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-61 minutes') GROUP BY 1, 2, 3;

-- Messages from this sender in the hour before this one, fixed when it is received.
ALTER TABLE intake ADD COLUMN sender_recent INTEGER;
UPDATE intake SET sender_recent = (
  SELECT count(*) FROM intake AS i WHERE i.sender = intake.sender AND i.id < intake.id
    AND i.received_at >= strftime('%Y-%m-%dT%H:%M:%fZ', intake.received_at, '-1 hour') AND i.received_at <= intake.received_at)
  WHERE sender IS NOT NULL AND status IN ('received', 'processing', 'failed', 'suspended');

-- Nothing reads these any more (outbox_recipients is no longer written; kept for old tools).
DROP INDEX intake_sender;
DROP INDEX outbox_recipients_address;

CREATE TABLE nodes (
  id TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  last_seen TEXT NOT NULL
);
-- Finding the holders of outbox claims reads only claimed rows, however long the queue.
CREATE INDEX outbox_claimed ON outbox(claimed_by) WHERE claimed_by IS NOT NULL;
`;
