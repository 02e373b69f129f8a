import type { Db } from './db.js';
import { createRateCountersRepo } from './rate-counters-repo.js';

export type IntakeStatus = 'received' | 'processing' | 'done' | 'failed' | 'suspended' | 'deleted';
import type { Via } from '../shared/domain.js';

export type { Via };

export interface NewIntake {
  dedupeKey: string;
  messageId: string | null;
  rawPath: string | null;
  /** The raw bytes when they are committed with the row (small messages). */
  rawInline: Buffer | null;
  rawSize: number;
  rawSha256: string;
  via: Via;
  envelopeFrom: string | null;
  envelopeTo: string[];
  remoteIp: string | null;
  helo: string | null;
  /** The From header address (R43 counts per sender). */
  sender: string | null;
  subject: string | null;
  receivedAt: string;
  /** R65: digest of From, Date, Subject and body (trace headers left out); null when not computed. */
  contentDigest: string | null;
}

export interface IntakeRow {
  id: number;
  dedupe_key: string;
  message_id: string | null;
  /** R65: another stored message had this Message-ID with other content. */
  message_id_reused: boolean;
  raw_path: string | null;
  raw_size: number;
  via: Via;
  envelope_from: string | null;
  envelope_to: string[];
  remote_ip: string | null;
  helo: string | null;
  sender: string | null;
  /** R43: messages from this sender in the hour before this one, fixed when it was received. */
  sender_recent: number | null;
  subject: string | null;
  skip_checks: string[];
  status: IntakeStatus;
  attempts: number;
  error_code: string | null;
  error: string | null;
  ticket_id: number | null;
  comment_id: number | null;
  received_at: string;
  processed_at: string | null;
}

export interface InsertResult {
  id: number;
  /** True when a message with the same key was already stored (R7): nothing new was written. */
  duplicate: boolean;
  /** R65: the Message-ID was already stored with other content; this is a message of its own. */
  messageIdReused: boolean;
  /**
   * The stored message with this Message-ID predates content digests (migration 7): nothing was
   * written; fill in its digest (setContentDigest) and insert again.
   */
  digestUnknown?: true;
}

type RawRow = Omit<IntakeRow, 'envelope_to' | 'skip_checks' | 'message_id_reused'> & { envelope_to: string; skip_checks: string };
const toRow = (r: RawRow): IntakeRow => ({
  ...r, envelope_to: JSON.parse(r.envelope_to) as string[], skip_checks: JSON.parse(r.skip_checks) as string[],
  // R65: a reused Message-ID is stored under mid:<id>#<digest> (see insert).
  message_id_reused: r.message_id !== null && r.dedupe_key !== `mid:${r.message_id}`,
});

const COLUMNS = 'id, dedupe_key, message_id, raw_path, raw_size, via, envelope_from, envelope_to, remote_ip, helo, sender, sender_recent, subject, skip_checks, status, attempts, error_code, error, ticket_id, comment_id, received_at, processed_at';

/** The intake queue: every accepted message, its processing state, and R7's dedupe key. */
export function createIntakeRepo(db: Db) {
  const insert = db.prepare(`INSERT INTO intake (dedupe_key, message_id, raw_path, raw_size, raw_sha256, via, envelope_from, envelope_to, remote_ip, helo, sender, subject, received_at, content_digest)
    VALUES (@dedupeKey, @messageId, @rawPath, @rawSize, @rawSha256, @via, @envelopeFrom, @envelopeTo, @remoteIp, @helo, @sender, @subject, @receivedAt, @contentDigest)
    ON CONFLICT (dedupe_key) DO NOTHING`);
  const insertRaw = db.prepare('INSERT INTO intake_raw (intake_id, bytes) VALUES (?, ?)');
  const rawBytes = db.prepare('SELECT bytes FROM intake_raw WHERE intake_id = ?').pluck();
  const byKey = db.prepare('SELECT id, content_digest FROM intake WHERE dedupe_key = ?');
  const setDigest = db.prepare('UPDATE intake SET content_digest = ? WHERE id = ? AND content_digest IS NULL');
  // A claim stands until its holder stops: a clean stop gives it back, and the claims of a node
  // whose heartbeat is older than the lease are given back by releaseClaims (NodesRepo).
  const claim = db.prepare(`UPDATE intake SET status = 'processing', claimed_by = @node, claimed_at = @now, attempts = attempts + 1
    WHERE id IN (SELECT id FROM intake WHERE status = 'received' AND raw_size <= @maxSize ORDER BY id LIMIT @limit)
    RETURNING ${COLUMNS}`);
  const claimBig = db.prepare(`UPDATE intake SET status = 'processing', claimed_by = @node, claimed_at = @now, attempts = attempts + 1
    WHERE id IN (SELECT id FROM intake WHERE status = 'received' AND raw_size > @maxSize ORDER BY id LIMIT 1)
    RETURNING ${COLUMNS}`);
  const claimOne = db.prepare(`UPDATE intake SET status = 'processing', claimed_by = @node, claimed_at = @now, attempts = attempts + 1
    WHERE id = @id AND status = 'received'
    RETURNING ${COLUMNS}`);
  const done = db.prepare(`UPDATE intake SET status = @status, ticket_id = @ticketId, comment_id = @commentId, processed_at = @now, error_code = NULL, error = NULL, claimed_by = NULL WHERE id = @id`);
  const failed = db.prepare(`UPDATE intake SET status = 'failed', error_code = @code, error = @error, processed_at = @now, claimed_by = NULL WHERE id = @id`);
  const claimers = db.prepare(`SELECT DISTINCT claimed_by FROM intake WHERE status = 'processing' AND claimed_by IS NOT NULL`).pluck();
  const release = db.prepare(`UPDATE intake SET status = 'received', claimed_by = NULL, claimed_at = NULL WHERE status = 'processing' AND claimed_by = ?`);
  const releaseIds = db.prepare(`UPDATE intake SET status = 'received', claimed_by = NULL, claimed_at = NULL
    WHERE status = 'processing' AND claimed_by = ? AND id IN (SELECT value FROM json_each(?))`);
  const suspended = db.prepare(`UPDATE intake SET status = 'suspended', error_code = @reason, error = NULL, processed_at = @now, claimed_by = NULL,
    sender = coalesce(sender, @sender), subject = @subject WHERE id = @id`);
  const retry = db.prepare(`UPDATE intake SET status = 'received', claimed_by = NULL, claimed_at = NULL WHERE id = ? AND status = 'failed'`);
  const get = db.prepare(`SELECT ${COLUMNS} FROM intake WHERE id = ?`);
  const listByStatus = db.prepare(`SELECT ${COLUMNS} FROM intake WHERE status = ? ORDER BY id DESC LIMIT ?`);
  // R43: per-sender counts kept per minute (O(1) per message whatever a sender's volume).
  const rates = createRateCountersRepo(db);
  const senderRecent = db.prepare('UPDATE intake SET sender_recent = ? WHERE id = ?');
  const releaseSuspended = db.prepare(`UPDATE intake SET status = 'received', skip_checks = @skip, error_code = NULL, claimed_by = NULL, claimed_at = NULL WHERE id = @id AND status = 'suspended'`);
  const drop = db.prepare(`UPDATE intake SET status = 'deleted', processed_at = @now WHERE id = @id AND status = 'suspended'`);
  const dropRaw = db.prepare('DELETE FROM intake_raw WHERE intake_id = ?');
  const expired = db.prepare(`SELECT ${COLUMNS} FROM intake WHERE status = 'suspended' AND received_at < ?`);
  const byStatus = db.prepare('SELECT status, count(*) AS n FROM intake GROUP BY status');
  const lastReceived = db.prepare('SELECT max(received_at) FROM intake').pluck();
  const pending = db.prepare(`SELECT count(*) FROM intake WHERE status IN ('received', 'processing')`).pluck();

  /**
   * R7 and R65: a stored key with the same content digest (or a key that is the bytes' digest)
   * is a duplicate; the same Message-ID with other content is a message of its own, stored under
   * `mid:<id>#<digest>`, so that its own redeliveries are duplicates of it in turn.
   */
  function insertRow(row: NewIntake, dedupeKey: string): InsertResult {
    const { rawInline, ...fields } = row;
    const reused = dedupeKey !== row.dedupeKey;
    const info = insert.run({ ...fields, dedupeKey, envelopeTo: JSON.stringify(row.envelopeTo) });
    if (info.changes === 1) {
      const id = Number(info.lastInsertRowid);
      if (rawInline) insertRaw.run(id, rawInline);
      if (row.sender) senderRecent.run(rates.countThenBump('sender', row.sender, row.receivedAt), id);
      return { id, duplicate: false, messageIdReused: reused };
    }
    const stored = byKey.get(dedupeKey) as { id: number; content_digest: string | null };
    const duplicate: InsertResult = { id: stored.id, duplicate: true, messageIdReused: reused };
    if (reused || row.messageId === null || row.contentDigest === null || stored.content_digest === row.contentDigest) return duplicate;
    if (stored.content_digest === null) return { ...duplicate, digestUnknown: true };
    return insertRow(row, `${row.dedupeKey}#${row.contentDigest}`);
  }

  return {
    /** Inserts one row in the caller's transaction; duplicates (R7) return the stored id. */
    insert(row: NewIntake): InsertResult {
      return insertRow(row, row.dedupeKey);
    },
    /** R65: records the content digest of a row stored before digests were (digestUnknown). */
    setContentDigest(id: number, digest: string): void {
      setDigest.run(digest, id);
    },
    /**
     * Claims up to `limit` rows for one worker: with one UPDATE … RETURNING this is safe with
     * several processes on one database. The rows of a worker that died come back through
     * releaseClaims once its heartbeat is stale. Messages over `bigOver` bytes are claimed one
     * at a time and only when no smaller one waits, so a flood of big mail (each seconds of
     * parsing) never holds up the small mail behind it (issue 13).
     */
    claim(node: string, limit: number, now: string, bigOver = Number.MAX_SAFE_INTEGER): IntakeRow[] {
      const small = this.claimSmall(node, limit, now, bigOver);
      return small.length > 0 || bigOver === Number.MAX_SAFE_INTEGER ? small : this.claimBig(node, now, bigOver);
    },
    /** Up to `limit` waiting rows of at most `maxSize` bytes. */
    claimSmall(node: string, limit: number, now: string, maxSize: number): IntakeRow[] {
      return (claim.all({ node, now, limit, maxSize }) as RawRow[]).map(toRow);
    },
    /** The oldest waiting row over `maxSize` bytes, alone. */
    claimBig(node: string, now: string, maxSize: number): IntakeRow[] {
      return (claimBig.all({ node, now, maxSize }) as RawRow[]).map(toRow);
    },
    /** Claims one given row (pipe intake processes its own message at once). */
    claimOne(id: number, node: string, now: string): IntakeRow | undefined {
      const r = claimOne.get({ id, node, now }) as RawRow | undefined;
      return r && toRow(r);
    },
    /** Nodes holding claims right now (names as given to claim()). */
    claimers(): string[] {
      return claimers.all() as string[];
    },
    /** Gives a node's claims back to the queue (it stopped, or its heartbeat is stale); returns how many. */
    releaseClaims(node: string): number {
      return release.run(node).changes;
    },
    /** Gives back these rows of this node's claims (a batch that failed), not its others. */
    releaseRows(node: string, ids: readonly number[]): number {
      return releaseIds.run(node, JSON.stringify(ids)).changes;
    },
    markDone(id: number, ticketId: number | null, commentId: number | null, now: string, status: 'done' | 'suspended' = 'done'): void {
      done.run({ id, ticketId, commentId, now, status });
    },
    /** Held mail (R41): kept with its reason, not processed further until released. */
    markSuspended(id: number, reason: string, now: string, about: { from: string | null; subject: string }): void {
      suspended.run({ id, reason, now, sender: about.from, subject: about.subject });
    },
    markFailed(id: number, code: string, error: string, now: string): void {
      failed.run({ id, code, error, now });
    },
    /** R8: puts a failed message back in the queue. Returns false when it is not failed. */
    retry(id: number): boolean {
      return retry.run(id).changes === 1;
    },
    /** The raw bytes stored in the database for a message, if they are there (not in a file). */
    rawBytes(id: number): Buffer | undefined {
      return rawBytes.get(id) as Buffer | undefined;
    },
    get(id: number): IntakeRow | undefined {
      const r = get.get(id) as RawRow | undefined;
      return r && toRow(r);
    },
    list(status: IntakeStatus, limit = -1): IntakeRow[] {
      return (listByStatus.all(status, limit) as RawRow[]).map(toRow);
    },
    /** R43 at SMTP time: messages from this sender in the hour after `since` (to the minute; `_limit` is not needed). */
    countFromSender(sender: string, since: string, _limit?: number): number {
      return rates.count('sender', sender, new Date(Date.parse(since) + 3_600_000));
    },
    /** R41: back to the queue, skipping the check that held it. */
    release(id: number, skip: string[]): boolean {
      return releaseSuspended.run({ id, skip: JSON.stringify(skip) }).changes === 1;
    },
    /** R41: deletes a suspended message (its raw bytes too). Returns the row as it was, or undefined. */
    deleteSuspended(id: number, now: string): IntakeRow | undefined {
      const r = get.get(id) as RawRow | undefined;
      if (!r || drop.run({ id, now }).changes !== 1) return undefined;
      dropRaw.run(id);
      return toRow(r);
    },
    /** R41: suspended mail received before `before` (for suspended.keep_days). */
    suspendedBefore(before: string): IntakeRow[] {
      return (expired.all(before) as RawRow[]).map(toRow);
    },
    /** Messages by intake status (received, processing, done, failed, suspended, deleted). */
    countByStatus(): Record<string, number> {
      return Object.fromEntries((byStatus.all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n]));
    },
    lastReceivedAt(): string | null {
      return lastReceived.get() as string | null;
    },
    pendingCount(): number {
      return pending.get() as number;
    },
  };
}

export type IntakeRepo = ReturnType<typeof createIntakeRepo>;
