import type { Sql } from './sql.js';

import type { TicketStatus, Role, Person, TicketState } from '../shared/domain.js';

export type { TicketStatus, Role, Person, TicketState };

export interface NewTicket {
  subject: string;
  status: TicketStatus;
  requesterId: number;
  submitterId: number | null;
  assigneeId?: number | null;
  groupName: string | null;
  recipient: string;
  via: string;
  followUpOf: number | null;
  tags: string[];
  now: string;
}

export interface NewComment {
  ticketId: number;
  authorId: number;
  authorRole: Role;
  public: boolean;
  visibilityRule: string;
  body: string;
  fullBody: string | null;
  htmlBody: string | null;
  flags: string[];
  messageId: string | null;
  to: string[];
  cc: string[];
  auth: Record<string, string> | null;
  intakeId: number | null;
  via: string;
  now: string;
}

export interface NewAttachment {
  filename: string | null;
  contentType: string;
  size: number;
  sha256: string;
  contentId: string | null;
  inline: boolean;
}

export interface AuditEntry {
  ticketId: number;
  at: string;
  actor: string;
  rule: string | null;
  change: string;
  value: string | null;
}

const json = (s: string): string[] => JSON.parse(s) as string[];

/** All SQL about tickets, their people, comments, attachments, Message-IDs and audit. */
export function createTicketsRepo(sql: Sql) {
  // Read-modify-write of the JSON columns: on PostgreSQL another node may update the same
  // ticket at once, so the read locks the row (SQLite's write transaction already excludes others).
  const forUpdate = sql.dialect === 'postgres' ? ' FOR UPDATE' : '';
  const s = {
    insertUser: 'INSERT INTO users (email, name, created_at) VALUES (?, ?, ?) ON CONFLICT (email) DO NOTHING RETURNING id',
    userByEmail: 'SELECT id, email, name FROM users WHERE email = ?',
    fillName: 'UPDATE users SET name = @name WHERE id = @id AND (name IS NULL OR name = \'\')',
    setName: 'UPDATE users SET name = @name WHERE id = @id AND name IS DISTINCT FROM @name',
    insertTicket: `INSERT INTO tickets (subject, status, requester_id, submitter_id, assignee_id, group_name, recipient, via, follow_up_of, tags, created_at, updated_at, status_changed_at, assigned_at)
      VALUES (@subject, @status, @requesterId, @submitterId, @assigneeId, @groupName, @recipient, @via, @followUpOf, @tags, @now, @now, @now, @assignedAt) RETURNING id`,
    ticket: `SELECT t.*, r.email AS r_email, r.name AS r_name, a.email AS a_email, a.name AS a_name,
        EXISTS (SELECT 1 FROM comments c WHERE c.ticket_id = t.id AND c.public = 1) AS has_public
      FROM tickets t JOIN users r ON r.id = t.requester_id LEFT JOIN users a ON a.id = t.assignee_id WHERE t.id = ?`,
    // CCs and followers in one round trip (each in its own order).
    people: `SELECT 'cc' AS kind, u.email, u.name, x.added_at FROM ticket_ccs x JOIN users u ON u.id = x.user_id WHERE x.ticket_id = @id
      UNION ALL SELECT 'follower' AS kind, u.email, u.name, x.added_at FROM ticket_followers x JOIN users u ON u.id = x.user_id WHERE x.ticket_id = @id
      ORDER BY 1, 4, 2`,
    insertComment: `INSERT INTO comments (ticket_id, author_id, author_role, public, visibility_rule, body, full_body, html_body, flags, message_id, to_addrs, cc_addrs, auth, intake_id, via, created_at)
      VALUES (@ticketId, @authorId, @authorRole, @public, @visibilityRule, @body, @fullBody, @htmlBody, @flags, @messageId, @to, @cc, @auth, @intakeId, @via, @now) RETURNING id`,
    insertAttachment: `INSERT INTO attachments (comment_id, filename, content_type, size, sha256, content_id, inline) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    status: `UPDATE tickets SET status = @status, status_changed_at = @now, updated_at = @now,
      solved_at = CASE WHEN @status = 'solved' THEN @now ELSE solved_at END WHERE id = @id`,
    assignee: 'UPDATE tickets SET assignee_id = @userId, assigned_at = @now, updated_at = @now WHERE id = @id',
    group: 'UPDATE tickets SET group_name = @group, updated_at = @now WHERE id = @id',
    requester: 'UPDATE tickets SET requester_id = @userId, updated_at = @now WHERE id = @id',
    tags: 'UPDATE tickets SET tags = @tags, updated_at = @now WHERE id = @id',
    warnings: 'UPDATE tickets SET warnings = @warnings, updated_at = @now WHERE id = @id',
    touch: 'UPDATE tickets SET updated_at = @now WHERE id = @id',
    tagsOf: `SELECT tags FROM tickets WHERE id = ?${forUpdate}`,
    warningsOf: `SELECT warnings FROM tickets WHERE id = ?${forUpdate}`,
    addCc: 'INSERT INTO ticket_ccs (ticket_id, user_id, added_at, history_pending, added_by_comment_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    markCcHistory: 'UPDATE ticket_ccs SET history_pending = 1, added_by_comment_id = ? WHERE ticket_id = ? AND user_id = ?',
    privateNotes: 'SELECT body FROM comments WHERE ticket_id = ? AND public = 0 ORDER BY id',
    removeCc: 'DELETE FROM ticket_ccs WHERE ticket_id = ? AND user_id = ?',
    addFollower: 'INSERT INTO ticket_followers (ticket_id, user_id, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    removeFollower: 'DELETE FROM ticket_followers WHERE ticket_id = ? AND user_id = ?',
    // All of them in one statement, in the array's order (SQLite needs the WHERE to read ON CONFLICT as the upsert clause).
    rememberMids: sql.dialect === 'postgres'
      ? 'INSERT INTO message_ids (message_id, ticket_id, direction, created_at) SELECT m, ?, ?, ? FROM jsonb_array_elements_text(?::jsonb) WITH ORDINALITY AS a(m, n) ORDER BY n ON CONFLICT DO NOTHING'
      : 'INSERT INTO message_ids (message_id, ticket_id, direction, created_at) SELECT value, ?, ?, ? FROM json_each(?) WHERE true ORDER BY key ON CONFLICT DO NOTHING',
    // One statement for all of a message's reply ids, whatever their number (a JSON array parameter).
    midTickets: sql.dialect === 'postgres'
      ? 'SELECT message_id, ticket_id FROM message_ids WHERE message_id IN (SELECT jsonb_array_elements_text(?::jsonb))'
      : 'SELECT message_id, ticket_id FROM message_ids WHERE message_id IN (SELECT value FROM json_each(?))',
    audit: 'INSERT INTO audit (ticket_id, at, actor, rule, change, value) VALUES (@ticketId, @at, @actor, @rule, @change, @value)',
    comments: `SELECT c.id, c.public, c.body, c.created_at, u.email, u.name FROM comments c JOIN users u ON u.id = c.author_id WHERE c.ticket_id = ? ORDER BY c.id`,
    mids: 'SELECT message_id FROM message_ids WHERE ticket_id = ? ORDER BY created_at, rowid',
    clearHistory: 'UPDATE ticket_ccs SET history_pending = 0 WHERE ticket_id = ? AND user_id = (SELECT id FROM users WHERE email = ?)',
    owedHistory: 'SELECT u.email FROM ticket_ccs x JOIN users u ON u.id = x.user_id WHERE x.ticket_id = ? AND x.history_pending = 1',
    markRobot: 'UPDATE users SET is_robot = 1 WHERE email = ?',
    openIds: `SELECT id FROM tickets WHERE status != 'closed' ORDER BY id`,
  };

  /** One round trip for a known user whose name needs no change (the common case), two for a new one. */
  async function ensureUser(email: string, name?: string | null, opts: { overwriteName?: boolean } = {}): Promise<number> {
    let u = await sql.get<{ id: number; name: string | null }>(s.userByEmail, [email]);
    if (!u) {
      const inserted = await sql.get<{ id: number }>(s.insertUser, [email, name ?? null, new Date().toISOString()]);
      if (inserted) return inserted.id;
      u = (await sql.get<{ id: number; name: string | null }>(s.userByEmail, [email]))!; // another node inserted it meanwhile
    }
    const wants = opts.overwriteName ? name && u.name !== name : name && !u.name;
    if (wants) await sql.run(opts.overwriteName ? s.setName : s.fillName, { name, id: u.id });
    return u.id;
  }
  const peopleOf = async (id: number): Promise<{ ccs: Person[]; followers: Person[] }> => {
    const rows = await sql.all<{ kind: string; email: string; name: string | null }>(s.people, { id });
    const pick = (kind: string) => rows.filter((r) => r.kind === kind).map((r) => ({ email: r.email, name: r.name }));
    return { ccs: pick('cc'), followers: pick('follower') };
  };
  const jsonOf = async (text: string, id: number) => json((await sql.value<string>(text, [id]))!);

  return {
    ensureUser,
    async userId(email: string): Promise<number | undefined> {
      return (await sql.get<{ id: number }>(s.userByEmail, [email]))?.id;
    },
    async createTicket(t: NewTicket): Promise<number> {
      const { now, subject, status, requesterId, submitterId, groupName, recipient, via, followUpOf } = t;
      const r = await sql.get<{ id: number }>(s.insertTicket, {
        subject, status, requesterId, submitterId, groupName, recipient, via, followUpOf, now,
        assigneeId: t.assigneeId ?? null, tags: JSON.stringify(t.tags), assignedAt: t.assigneeId ? now : null,
      });
      return r!.id;
    },
    /**
     * Locks the ticket's row until the caller's transaction ends (PostgreSQL; SQLite's write
     * transaction already excludes every other writer), so two nodes updating one ticket plan
     * one after the other from what the first wrote, never both from the same state.
     */
    async lock(id: number): Promise<void> {
      if (sql.dialect === 'postgres') await sql.run('SELECT id FROM tickets WHERE id = ? FOR UPDATE', [id]);
    },
    async getState(id: number): Promise<TicketState | undefined> {
      const r = await sql.get(s.ticket, [id]);
      if (!r) return undefined;
      return {
        id: r.id as number,
        subject: r.subject as string,
        status: r.status as TicketStatus,
        requester: { email: r.r_email as string, name: r.r_name as string | null },
        assignee: r.a_email ? { email: r.a_email as string, name: r.a_name as string | null } : null,
        group: r.group_name as string | null,
        recipient: r.recipient as string,
        via: r.via as string,
        ...(await peopleOf(id)),
        tags: json(r.tags as string),
        warnings: json(r.warnings as string),
        followUpOf: r.follow_up_of as number | null,
        hasPublicComment: r.has_public === 1,
        createdAt: r.created_at as string,
        updatedAt: r.updated_at as string,
        statusChangedAt: r.status_changed_at as string,
        solvedAt: r.solved_at as string | null,
        assignedAt: r.assigned_at as string | null,
      };
    },
    async addComment(c: NewComment, attachments: readonly NewAttachment[] = []): Promise<number> {
      const r = await sql.get<{ id: number }>(s.insertComment, {
        ticketId: c.ticketId, authorId: c.authorId, authorRole: c.authorRole, visibilityRule: c.visibilityRule, body: c.body,
        fullBody: c.fullBody, htmlBody: c.htmlBody, messageId: c.messageId, intakeId: c.intakeId, via: c.via, now: c.now,
        public: c.public ? 1 : 0,
        flags: JSON.stringify(c.flags),
        to: JSON.stringify(c.to),
        cc: JSON.stringify(c.cc),
        auth: c.auth ? JSON.stringify(c.auth) : null,
      });
      const commentId = r!.id;
      for (const a of attachments) await sql.run(s.insertAttachment, [commentId, a.filename, a.contentType, a.size, a.sha256, a.contentId, a.inline ? 1 : 0]);
      return commentId;
    },
    async setStatus(id: number, status: TicketStatus, now: string): Promise<void> { await sql.run(s.status, { id, status, now }); },
    async setAssignee(id: number, userId: number | null, now: string): Promise<void> { await sql.run(s.assignee, { id, userId, now }); },
    async setGroup(id: number, group: string | null, now: string): Promise<void> { await sql.run(s.group, { id, group, now }); },
    async setRequester(id: number, userId: number, now: string): Promise<void> { await sql.run(s.requester, { id, userId, now }); },
    async setTags(id: number, tags: string[], now: string): Promise<void> { await sql.run(s.tags, { id, tags: JSON.stringify(tags), now }); },
    async touch(id: number, now: string): Promise<void> { await sql.run(s.touch, { id, now }); },
    /** Adds tags (lower-cased, once each); returns those that were new. */
    async addTags(id: number, tags: readonly string[], now: string): Promise<string[]> {
      const current = await jsonOf(s.tagsOf, id);
      const added = [...new Set(tags.map((t) => t.toLowerCase()))].filter((t) => !current.includes(t));
      if (added.length > 0) await sql.run(s.tags, { id, tags: JSON.stringify([...current, ...added]), now });
      return added;
    },
    /** Removes tags; returns those that were there. */
    async removeTags(id: number, tags: readonly string[], now: string): Promise<string[]> {
      const current = await jsonOf(s.tagsOf, id);
      const drop = new Set(tags.map((t) => t.toLowerCase()));
      const removed = current.filter((t) => drop.has(t));
      if (removed.length > 0) await sql.run(s.tags, { id, tags: JSON.stringify(current.filter((t) => !drop.has(t))), now });
      return removed;
    },
    /** Adds ticket warnings (e.g. third_party_reply, R33); returns those that were new. */
    async addWarnings(id: number, warnings: readonly string[], now: string): Promise<string[]> {
      const current = await jsonOf(s.warningsOf, id);
      const added = [...new Set(warnings)].filter((w) => !current.includes(w));
      if (added.length > 0) await sql.run(s.warnings, { id, warnings: JSON.stringify([...current, ...added]), now });
      return added;
    },
    async addCc(id: number, userId: number, now: string): Promise<boolean> { return (await sql.run(s.addCc, [id, userId, now, 0, null])) === 1; },
    /** R28: marks a CC added by a message as owed the public history in their first notification. */
    async markCcNeedsHistory(id: number, userId: number, commentId: number): Promise<void> { await sql.run(s.markCcHistory, [commentId, id, userId]); },
    /** R21: the texts of the ticket's private notes. */
    privateNoteBodies(id: number): Promise<string[]> { return sql.column<string>(s.privateNotes, [id]); },
    async removeCc(id: number, userId: number): Promise<boolean> { return (await sql.run(s.removeCc, [id, userId])) === 1; },
    async addFollower(id: number, userId: number, now: string): Promise<boolean> { return (await sql.run(s.addFollower, [id, userId, now])) === 1; },
    async removeFollower(id: number, userId: number): Promise<boolean> { return (await sql.run(s.removeFollower, [id, userId])) === 1; },
    /** R10: remembers Message-IDs seen (in) or sent (out) for a ticket; the first ticket to claim an id keeps it. */
    async rememberMessageIds(ticketId: number, ids: readonly string[], direction: 'in' | 'out', now: string): Promise<void> {
      if (ids.length > 0) await sql.run(s.rememberMids, [ticketId, direction, now, JSON.stringify(ids)]);
    },
    /** The tickets that own any of these Message-IDs, keyed by id. */
    async ticketsForMessageIds(ids: readonly string[]): Promise<Map<string, number>> {
      if (ids.length === 0) return new Map();
      const rows = await sql.all<{ message_id: string; ticket_id: number }>(s.midTickets, [JSON.stringify([...new Set(ids)])]);
      return new Map(rows.map((r) => [r.message_id, r.ticket_id]));
    },
    async audit(e: AuditEntry): Promise<void> {
      await sql.run(s.audit, { ticketId: e.ticketId, at: e.at, actor: e.actor, rule: e.rule, change: e.change, value: e.value });
    },
    /** Comments with their authors, oldest first, for notification templates. */
    async comments(id: number): Promise<Array<{ id: number; public: boolean; body: string; createdAt: string; author: { email: string; name: string | null } }>> {
      return (await sql.all(s.comments, [id])).map((c) => ({
        id: c.id as number, public: c.public === 1, body: c.body as string, createdAt: c.created_at as string,
        author: { email: c.email as string, name: c.name as string | null },
      }));
    },
    /** Every Message-ID of the ticket, in and out, oldest first (References, R56). */
    messageIds(id: number): Promise<string[]> { return sql.column<string>(s.mids, [id]); },
    /** R28: CCs added by a message who have not yet been sent the ticket's history. */
    ccsOwedHistory(id: number): Promise<string[]> { return sql.column<string>(s.owedHistory, [id]); },
    /** R28: the CC has been sent the history. */
    async clearCcHistory(id: number, email: string): Promise<void> { await sql.run(s.clearHistory, [id, email]); },
    /** R42: this address sent automated mail: never notify it. */
    async markRobot(email: string): Promise<void> { await sql.run(s.markRobot, [email]); },
    /** R42: which of these addresses are robots (one query for a notification's candidates). */
    async robotsAmong(emails: readonly string[]): Promise<Set<string>> {
      const unique = [...new Set(emails)];
      const out = new Set<string>();
      for (let i = 0; i < unique.length; i += 500) {
        const part = unique.slice(i, i + 500);
        for (const e of await sql.column<string>(`SELECT email FROM users WHERE is_robot = 1 AND email IN (${part.map(() => '?').join(', ')})`, part)) out.add(e);
      }
      return out;
    },
    /** Tickets automations look at (R52): everything not closed. */
    openTicketIds(): Promise<number[]> { return sql.column<number>(s.openIds); },
  };
}

export type TicketsRepo = ReturnType<typeof createTicketsRepo>;
