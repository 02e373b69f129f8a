import type { Sql } from './sql.js';
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
  /** The processing lane (thread hash, see thread/lane.ts); 0 when one worker processes. */
  lane?: number;
}

/** Which lanes a processing worker claims: those with lane % count = index (one worker: all). */
export interface LaneFilter { index: number; count: number }
const ALL_LANES: LaneFilter = { index: 0, count: 1 };

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
export function createIntakeRepo(sql: Sql) {
  // Several nodes claim from one queue on PostgreSQL: a row another node is claiming is skipped,
  // not waited for (SQLite's write transaction already makes the claim exclusive).
  const skipLocked = sql.dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
  const claimSet = `status = 'processing', claimed_by = @node, claimed_at = @now, attempts = attempts + 1`;
  const q = {
    insert: `INSERT INTO intake (dedupe_key, message_id, raw_path, raw_size, raw_sha256, via, envelope_from, envelope_to, remote_ip, helo, sender, subject, received_at, content_digest, lane)
      VALUES (@dedupeKey, @messageId, @rawPath, @rawSize, @rawSha256, @via, @envelopeFrom, @envelopeTo, @remoteIp, @helo, @sender, @subject, @receivedAt, @contentDigest, @lane)
      ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
    insertRaw: 'INSERT INTO intake_raw (intake_id, bytes) VALUES (?, ?)',
    rawBytes: 'SELECT bytes FROM intake_raw WHERE intake_id = ?',
    byKey: 'SELECT id, content_digest FROM intake WHERE dedupe_key = ?',
    setDigest: 'UPDATE intake SET content_digest = ? WHERE id = ? AND content_digest IS NULL',
    // A claim stands until its holder stops: a clean stop gives it back, and the claims of a node
    // whose heartbeat is older than the lease are given back by releaseClaims (NodesRepo).
    claim: `UPDATE intake SET ${claimSet}
      WHERE id IN (SELECT id FROM intake WHERE status = 'received' AND raw_size <= @maxSize AND lane % @lanes = @lane ORDER BY id LIMIT @limit${skipLocked})
      RETURNING ${COLUMNS}`,
    claimBig: `UPDATE intake SET ${claimSet}
      WHERE id IN (SELECT id FROM intake WHERE status = 'received' AND raw_size > @maxSize AND lane % @lanes = @lane ORDER BY id LIMIT 1${skipLocked})
      RETURNING ${COLUMNS}`,
    claimOne: `UPDATE intake SET ${claimSet} WHERE id = @id AND status = 'received' RETURNING ${COLUMNS}`,
    done: `UPDATE intake SET status = @status, ticket_id = @ticketId, comment_id = @commentId, processed_at = @now, error_code = NULL, error = NULL, claimed_by = NULL WHERE id = @id AND claimed_by = @node`,
    failed: `UPDATE intake SET status = 'failed', error_code = @code, error = @error, processed_at = @now, claimed_by = NULL WHERE id = @id AND claimed_by = @node`,
    claimers: `SELECT DISTINCT claimed_by FROM intake WHERE status = 'processing' AND claimed_by IS NOT NULL`,
    release: `UPDATE intake SET status = 'received', claimed_by = NULL, claimed_at = NULL WHERE status = 'processing' AND claimed_by = ?`,
    releaseIds: (n: number) => `UPDATE intake SET status = 'received', claimed_by = NULL, claimed_at = NULL
      WHERE status = 'processing' AND claimed_by = ? AND id IN (${Array(n).fill('?').join(', ')})`,
    suspended: `UPDATE intake SET status = 'suspended', error_code = @reason, error = NULL, processed_at = @now, claimed_by = NULL,
      sender = coalesce(sender, @sender), subject = @subject WHERE id = @id AND claimed_by = @node`,
    retry: `UPDATE intake SET status = 'received', claimed_by = NULL, claimed_at = NULL WHERE id = ? AND status = 'failed'`,
    get: `SELECT ${COLUMNS} FROM intake WHERE id = ?`,
    listByStatus: `SELECT ${COLUMNS} FROM intake WHERE status = ? ORDER BY id DESC LIMIT ?`,
    senderRecent: 'UPDATE intake SET sender_recent = ? WHERE id = ?',
    releaseSuspended: `UPDATE intake SET status = 'received', skip_checks = @skip, error_code = NULL, claimed_by = NULL, claimed_at = NULL WHERE id = @id AND status = 'suspended'`,
    drop: `UPDATE intake SET status = 'deleted', processed_at = @now WHERE id = @id AND status = 'suspended'`,
    dropRaw: 'DELETE FROM intake_raw WHERE intake_id = ?',
    expired: `SELECT ${COLUMNS} FROM intake WHERE status = 'suspended' AND received_at < ?`,
    byStatus: 'SELECT status, count(*) AS n FROM intake GROUP BY status',
    lastReceived: 'SELECT max(received_at) FROM intake',
    pending: `SELECT count(*) FROM intake WHERE status IN ('received', 'processing')`,
  };
  // R43: per-sender counts kept per minute (O(1) per message whatever a sender's volume).
  const rates = createRateCountersRepo(sql);
  // UPDATE … RETURNING gives rows in storage order on PostgreSQL: sorted, so a batch is handled in
  // arrival order (an original before its reply, R10).
  const rows = async (text: string, params: Parameters<Sql['all']>[1]) => (await sql.all<RawRow>(text, params)).map(toRow).sort((a, b) => a.id - b.id);

  /**
   * R7 and R65: a stored key with the same content digest (or a key that is the bytes' digest)
   * is a duplicate; the same Message-ID with other content is a message of its own, stored under
   * `mid:<id>#<digest>`, so that its own redeliveries are duplicates of it in turn.
   */
  async function insertRow(row: NewIntake, dedupeKey: string): Promise<InsertResult> {
    const reused = dedupeKey !== row.dedupeKey;
    const inserted = await sql.get<{ id: number }>(q.insert, {
      dedupeKey, messageId: row.messageId, rawPath: row.rawPath, rawSize: row.rawSize, rawSha256: row.rawSha256, via: row.via,
      envelopeFrom: row.envelopeFrom, envelopeTo: JSON.stringify(row.envelopeTo), remoteIp: row.remoteIp, helo: row.helo,
      sender: row.sender, subject: row.subject, receivedAt: row.receivedAt, contentDigest: row.contentDigest, lane: row.lane ?? 0,
    });
    if (inserted) {
      const id = inserted.id;
      if (row.rawInline) await sql.run(q.insertRaw, [id, row.rawInline]);
      if (row.sender) await sql.run(q.senderRecent, [await rates.countThenBump('sender', row.sender, row.receivedAt), id]);
      return { id, duplicate: false, messageIdReused: reused };
    }
    const stored = (await sql.get<{ id: number; content_digest: string | null }>(q.byKey, [dedupeKey]))!;
    const duplicate: InsertResult = { id: stored.id, duplicate: true, messageIdReused: reused };
    if (reused || row.messageId === null || row.contentDigest === null || stored.content_digest === row.contentDigest) return duplicate;
    if (stored.content_digest === null) return { ...duplicate, digestUnknown: true };
    return insertRow(row, `${row.dedupeKey}#${row.contentDigest}`);
  }

  const repo = {
    /** Inserts one row in the caller's transaction; duplicates (R7) return the stored id. */
    insert(row: NewIntake): Promise<InsertResult> {
      return insertRow(row, row.dedupeKey);
    },
    /** R65: records the content digest of a row stored before digests were (digestUnknown). */
    async setContentDigest(id: number, digest: string): Promise<void> {
      await sql.run(q.setDigest, [digest, id]);
    },
    /**
     * Claims up to `limit` rows for one worker: with one UPDATE … RETURNING (and SKIP LOCKED on
     * PostgreSQL) this is safe with several processes on one database. The rows of a worker that
     * died come back through releaseClaims once its heartbeat is stale. Messages over `bigOver`
     * bytes are claimed one at a time and only when no smaller one waits, so a flood of big mail
     * (each seconds of parsing) never holds up the small mail behind it (issue 13).
     */
    async claim(node: string, limit: number, now: string, bigOver = Number.MAX_SAFE_INTEGER, lanes: LaneFilter = ALL_LANES): Promise<IntakeRow[]> {
      const small = await repo.claimSmall(node, limit, now, bigOver, lanes);
      return small.length > 0 || bigOver === Number.MAX_SAFE_INTEGER ? small : repo.claimBig(node, now, bigOver, lanes);
    },
    /** Up to `limit` waiting rows of at most `maxSize` bytes, of this worker's lanes. */
    claimSmall(node: string, limit: number, now: string, maxSize: number, lanes: LaneFilter = ALL_LANES): Promise<IntakeRow[]> {
      return rows(q.claim, { node, now, limit, maxSize, lanes: lanes.count, lane: lanes.index });
    },
    /** The oldest waiting row over `maxSize` bytes of this worker's lanes, alone. */
    claimBig(node: string, now: string, maxSize: number, lanes: LaneFilter = ALL_LANES): Promise<IntakeRow[]> {
      return rows(q.claimBig, { node, now, maxSize, lanes: lanes.count, lane: lanes.index });
    },
    /** Claims one given row (pipe intake processes its own message at once). */
    async claimOne(id: number, node: string, now: string): Promise<IntakeRow | undefined> {
      return (await rows(q.claimOne, { id, node, now }))[0];
    },
    /** Nodes holding claims right now (names as given to claim()). */
    claimers(): Promise<string[]> {
      return sql.column<string>(q.claimers);
    },
    /** Gives a node's claims back to the queue (it stopped, or its heartbeat is stale); returns how many. */
    releaseClaims(node: string): Promise<number> {
      return sql.run(q.release, [node]);
    },
    /** Gives back these rows of this node's claims (a batch that failed), not its others. */
    async releaseRows(node: string, ids: readonly number[]): Promise<number> {
      return ids.length === 0 ? 0 : sql.run(q.releaseIds(ids.length), [node, ...ids]);
    },
    /**
     * The outcome of a claimed message. R71's fence: each writes only while `node` still holds
     * the claim and returns false when another node took it over (store nothing then). On
     * PostgreSQL the row stays locked until the caller's transaction ends, so a node taking back
     * stale claims waits for it and then finds the message done.
     */
    async markDone(id: number, node: string, ticketId: number | null, commentId: number | null, now: string, status: 'done' | 'suspended' = 'done'): Promise<boolean> {
      return (await sql.run(q.done, { id, node, ticketId, commentId, now, status })) === 1;
    },
    /** Held mail (R41): kept with its reason, not processed further until released. */
    async markSuspended(id: number, node: string, reason: string, now: string, about: { from: string | null; subject: string }): Promise<boolean> {
      return (await sql.run(q.suspended, { id, node, reason, now, sender: about.from, subject: about.subject })) === 1;
    },
    async markFailed(id: number, node: string, code: string, error: string, now: string): Promise<boolean> {
      return (await sql.run(q.failed, { id, node, code, error, now })) === 1;
    },
    /** R8: puts a failed message back in the queue. Returns false when it is not failed. */
    async retry(id: number): Promise<boolean> {
      return (await sql.run(q.retry, [id])) === 1;
    },
    /** The raw bytes stored in the database for a message, if they are there (not in a file). */
    rawBytes(id: number): Promise<Buffer | undefined> {
      return sql.value<Buffer>(q.rawBytes, [id]);
    },
    async get(id: number): Promise<IntakeRow | undefined> {
      return (await rows(q.get, [id]))[0];
    },
    list(status: IntakeStatus, limit = Number.MAX_SAFE_INTEGER): Promise<IntakeRow[]> {
      return rows(q.listByStatus, [status, limit]);
    },
    /** R43 at SMTP time: messages from this sender in the hour after `since` (to the minute; `_limit` is not needed). */
    countFromSender(sender: string, since: string, _limit?: number): Promise<number> {
      return rates.count('sender', sender, new Date(Date.parse(since) + 3_600_000));
    },
    /** R41: back to the queue, skipping the check that held it. */
    async release(id: number, skip: string[]): Promise<boolean> {
      return (await sql.run(q.releaseSuspended, { id, skip: JSON.stringify(skip) })) === 1;
    },
    /** R41: deletes a suspended message (its raw bytes too). Returns the row as it was, or undefined. */
    async deleteSuspended(id: number, now: string): Promise<IntakeRow | undefined> {
      const r = await repo.get(id);
      if (!r || (await sql.run(q.drop, { id, now })) !== 1) return undefined;
      await sql.run(q.dropRaw, [id]);
      return r;
    },
    /** R41: suspended mail received before `before` (for suspended.keep_days). */
    suspendedBefore(before: string): Promise<IntakeRow[]> {
      return rows(q.expired, [before]);
    },
    /** Messages by intake status (received, processing, done, failed, suspended, deleted). */
    async countByStatus(): Promise<Record<string, number>> {
      return Object.fromEntries((await sql.all<{ status: string; n: number }>(q.byStatus)).map((r) => [r.status, r.n]));
    },
    async lastReceivedAt(): Promise<string | null> {
      return (await sql.value<string | null>(q.lastReceived)) ?? null;
    },
    async pendingCount(): Promise<number> {
      return (await sql.value<number>(q.pending)) ?? 0;
    },
  };
  return repo;
}

export type IntakeRepo = ReturnType<typeof createIntakeRepo>;
