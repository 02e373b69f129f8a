import type { Sql } from './sql.js';
import { createRateCountersRepo } from './rate-counters-repo.js';

export type OutboxStatus = 'queued' | 'deferred' | 'sent' | 'failed' | 'held' | 'bounced' | 'suppressed';

export interface OutboundPerson { email: string; name: string | null }

export interface NewOutbound {
  ticketId: number;
  trigger: string;
  /** held: past R43's cap; suppressed: every recipient is on the suppression list (R68). */
  status: 'queued' | 'held' | 'suppressed';
  /** Why it is held or suppressed. */
  note?: string | null;
  from: OutboundPerson;
  replyTo: string | null;
  to: OutboundPerson[];
  cc: OutboundPerson[];
  subject: string;
  body: string;
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  headers: Record<string, string>;
  now: string;
}

export interface OutboundRow {
  id: number;
  ticket_id: number;
  trigger: string;
  status: OutboxStatus;
  from: OutboundPerson;
  reply_to: string | null;
  to: OutboundPerson[];
  cc: OutboundPerson[];
  subject: string;
  body: string;
  message_id: string;
  in_reply_to: string | null;
  references: string[];
  headers: Record<string, string>;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  created_at: string;
  sent_at: string | null;
}

type Raw = Record<string, unknown>;
const toRow = (r: Raw): OutboundRow => ({
  id: r.id as number, ticket_id: r.ticket_id as number, trigger: r.trigger as string, status: r.status as OutboxStatus,
  from: { email: r.from_addr as string, name: r.from_name as string | null }, reply_to: r.reply_to as string | null,
  to: JSON.parse(r.to_addrs as string), cc: JSON.parse(r.cc_addrs as string), subject: r.subject as string, body: r.body as string,
  message_id: r.message_id as string, in_reply_to: r.in_reply_to as string | null, references: JSON.parse(r.refs as string),
  headers: JSON.parse(r.headers as string), attempts: r.attempts as number, next_attempt_at: r.next_attempt_at as string,
  last_error: r.last_error as string | null, created_at: r.created_at as string, sent_at: r.sent_at as string | null,
});

/** The outbound queue (R59). Rows are claimed by one sender at a time with a lease. */
export function createOutboxRepo(sql: Sql) {
  const skipLocked = sql.dialect === 'postgres' ? ' FOR UPDATE SKIP LOCKED' : '';
  const q = {
    insert: `INSERT INTO outbox (ticket_id, trigger, status, from_addr, from_name, reply_to, to_addrs, cc_addrs, subject, body, message_id, in_reply_to, refs, headers, last_error, next_attempt_at, created_at)
      VALUES (@ticketId, @trigger, @status, @fromAddr, @fromName, @replyTo, @to, @cc, @subject, @body, @messageId, @inReplyTo, @refs, @headers, @note, @now, @now) RETURNING id`,
    // A claim stands until its holder gives it back, or releaseClaims does once the holder's heartbeat is stale.
    claim: `UPDATE outbox SET claimed_by = @node, claimed_at = @now
      WHERE id IN (SELECT id FROM outbox WHERE status IN ('queued', 'deferred') AND next_attempt_at <= @now
        AND claimed_by IS NULL ORDER BY next_attempt_at, id LIMIT @limit${skipLocked})
      RETURNING *`,
    // Each ends the claim of the node that sent: a node whose claim was taken over changes nothing (R71).
    sent: `UPDATE outbox SET status = 'sent', sent_at = @now, attempts = attempts + 1, last_error = @note, claimed_by = NULL WHERE id = @id AND claimed_by = @node`,
    deferred: `UPDATE outbox SET status = 'deferred', attempts = attempts + 1, last_error = @error, next_attempt_at = @next, claimed_by = NULL WHERE id = @id AND claimed_by = @node`,
    // R67: a bounce arrives after the smarthost took the message; a second recipient's adds to the first's.
    bounced: `UPDATE outbox SET status = 'bounced', last_error = @error WHERE id = @id AND status IN ('sent', 'bounced')`,
    byMessageId: `SELECT * FROM outbox WHERE message_id = ?`,
    byId: `SELECT * FROM outbox WHERE id = ?`,
    failed: `UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = @error, claimed_by = NULL WHERE id = @id AND claimed_by = @node`,
    list: `SELECT * FROM outbox WHERE (CAST(@status AS TEXT) IS NULL OR status = @status) ORDER BY id DESC LIMIT @limit`,
    claimers: `SELECT DISTINCT claimed_by FROM outbox WHERE claimed_by IS NOT NULL AND status IN ('queued', 'deferred')`,
    release: `UPDATE outbox SET claimed_by = NULL, claimed_at = NULL WHERE claimed_by = ? AND status IN ('queued', 'deferred')`,
    nextDue: `SELECT min(next_attempt_at) FROM outbox WHERE status IN ('queued', 'deferred')`,
    depth: `SELECT status, count(*) AS n FROM outbox GROUP BY status`,
    lastSent: `SELECT max(sent_at) FROM outbox WHERE status = 'sent'`,
  };
  const rates = createRateCountersRepo(sql);
  return {
    /** Queues one message; a queued (not held) one counts toward each recipient's hourly cap (R43), in the same transaction. */
    async enqueue(m: NewOutbound): Promise<number> {
      const r = await sql.get<{ id: number }>(q.insert, {
        ticketId: m.ticketId, trigger: m.trigger, status: m.status, fromAddr: m.from.email, fromName: m.from.name, replyTo: m.replyTo,
        to: JSON.stringify(m.to), cc: JSON.stringify(m.cc), subject: m.subject, body: m.body, messageId: m.messageId,
        inReplyTo: m.inReplyTo, refs: JSON.stringify(m.references), headers: JSON.stringify(m.headers), note: m.note ?? null, now: m.now,
      });
      if (m.status === 'queued') for (const p of [...m.to, ...m.cc]) await rates.bump('notify', p.email, m.now);
      return r!.id;
    },
    /** R43: notifications queued to an address in the hour up to `at` (held ones do not count). O(1): 61 counter rows at most. */
    countSentTo(address: string, at: string): Promise<number> {
      return rates.count('notify', address, at);
    },
    /** Claims due rows nobody holds. */
    async claimDue(node: string, now: string, limit: number): Promise<OutboundRow[]> {
      return (await sql.all<Raw>(q.claim, { node, now, limit })).map(toRow).sort((a, b) => a.next_attempt_at.localeCompare(b.next_attempt_at) || a.id - b.id);
    },
    /** These return false when `node` no longer holds the claim (another node took it over). */
    async markSent(id: number, node: string, now: string, note: string | null = null): Promise<boolean> { return (await sql.run(q.sent, { id, node, now, note })) === 1; },
    async markDeferred(id: number, node: string, error: string, next: string): Promise<boolean> { return (await sql.run(q.deferred, { id, node, error, next })) === 1; },
    async markFailed(id: number, node: string, error: string): Promise<boolean> { return (await sql.run(q.failed, { id, node, error })) === 1; },
    /** R67: false when the row was never sent (held, suppressed, still queued). */
    async markBounced(id: number, error: string): Promise<boolean> { return (await sql.run(q.bounced, { id, error })) === 1; },
    async byMessageId(messageId: string): Promise<OutboundRow | undefined> {
      const r = await sql.get<Raw>(q.byMessageId, [messageId]);
      return r ? toRow(r) : undefined;
    },
    async byId(id: number): Promise<OutboundRow | undefined> {
      const r = await sql.get<Raw>(q.byId, [id]);
      return r ? toRow(r) : undefined;
    },
    async list(opts: { status?: string | undefined; limit?: number | undefined } = {}): Promise<OutboundRow[]> {
      return (await sql.all<Raw>(q.list, { status: opts.status ?? null, limit: opts.limit ?? Number.MAX_SAFE_INTEGER })).map(toRow);
    },
    claimers(): Promise<string[]> { return sql.column<string>(q.claimers); },
    /** Rows by id, oldest first (explain reads back what its dry run queued). */
    async byIds(ids: readonly number[]): Promise<OutboundRow[]> {
      if (ids.length === 0) return [];
      return (await sql.all<Raw>(`SELECT * FROM outbox WHERE id IN (${ids.map(() => '?').join(', ')}) ORDER BY id`, ids)).map(toRow);
    },
    releaseClaims(node: string): Promise<number> { return sql.run(q.release, [node]); },
    async nextDueAt(): Promise<string | null> { return (await sql.value<string | null>(q.nextDue)) ?? null; },
    async lastSentAt(): Promise<string | null> { return (await sql.value<string | null>(q.lastSent)) ?? null; },
    async depth(): Promise<Record<string, number>> {
      return Object.fromEntries((await sql.all<{ status: string; n: number }>(q.depth)).map((r) => [r.status, r.n]));
    },
  };
}

export type OutboxRepo = ReturnType<typeof createOutboxRepo>;
