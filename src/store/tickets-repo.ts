import type { Db } from './db.js';

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
export function createTicketsRepo(db: Db) {
  const s = {
    insertUser: db.prepare('INSERT INTO users (email, name, created_at) VALUES (?, ?, ?) ON CONFLICT (email) DO NOTHING'),
    userByEmail: db.prepare('SELECT id, email, name FROM users WHERE email = ?'),
    fillName: db.prepare('UPDATE users SET name = @name WHERE id = @id AND (name IS NULL OR name = \'\')'),
    setName: db.prepare('UPDATE users SET name = @name WHERE id = @id AND name IS NOT @name'),
    insertTicket: db.prepare(`INSERT INTO tickets (subject, status, requester_id, submitter_id, assignee_id, group_name, recipient, via, follow_up_of, tags, created_at, updated_at, status_changed_at, assigned_at)
      VALUES (@subject, @status, @requesterId, @submitterId, @assigneeId, @groupName, @recipient, @via, @followUpOf, @tags, @now, @now, @now, @assignedAt)`),
    ticket: db.prepare(`SELECT t.*, r.email AS r_email, r.name AS r_name, a.email AS a_email, a.name AS a_name,
        EXISTS (SELECT 1 FROM comments c WHERE c.ticket_id = t.id AND c.public = 1) AS has_public
      FROM tickets t JOIN users r ON r.id = t.requester_id LEFT JOIN users a ON a.id = t.assignee_id WHERE t.id = ?`),
    ccs: db.prepare('SELECT u.email, u.name FROM ticket_ccs x JOIN users u ON u.id = x.user_id WHERE x.ticket_id = ? ORDER BY x.added_at, u.email'),
    followers: db.prepare('SELECT u.email, u.name FROM ticket_followers x JOIN users u ON u.id = x.user_id WHERE x.ticket_id = ? ORDER BY x.added_at, u.email'),
    insertComment: db.prepare(`INSERT INTO comments (ticket_id, author_id, author_role, public, visibility_rule, body, full_body, html_body, flags, message_id, to_addrs, cc_addrs, auth, intake_id, via, created_at)
      VALUES (@ticketId, @authorId, @authorRole, @public, @visibilityRule, @body, @fullBody, @htmlBody, @flags, @messageId, @to, @cc, @auth, @intakeId, @via, @now)`),
    insertAttachment: db.prepare(`INSERT INTO attachments (comment_id, filename, content_type, size, sha256, content_id, inline) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    status: db.prepare(`UPDATE tickets SET status = @status, status_changed_at = @now, updated_at = @now,
      solved_at = CASE WHEN @status = 'solved' THEN @now ELSE solved_at END WHERE id = @id`),
    assignee: db.prepare('UPDATE tickets SET assignee_id = @userId, assigned_at = @now, updated_at = @now WHERE id = @id'),
    group: db.prepare('UPDATE tickets SET group_name = @group, updated_at = @now WHERE id = @id'),
    requester: db.prepare('UPDATE tickets SET requester_id = @userId, updated_at = @now WHERE id = @id'),
    tags: db.prepare('UPDATE tickets SET tags = @tags, updated_at = @now WHERE id = @id'),
    warnings: db.prepare('UPDATE tickets SET warnings = @warnings, updated_at = @now WHERE id = @id'),
    touch: db.prepare('UPDATE tickets SET updated_at = @now WHERE id = @id'),
    tagsOf: db.prepare('SELECT tags FROM tickets WHERE id = ?').pluck(),
    warningsOf: db.prepare('SELECT warnings FROM tickets WHERE id = ?').pluck(),
    addCc: db.prepare('INSERT INTO ticket_ccs (ticket_id, user_id, added_at, history_pending, added_by_comment_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    markCcHistory: db.prepare('UPDATE ticket_ccs SET history_pending = 1, added_by_comment_id = ? WHERE ticket_id = ? AND user_id = ?'),
    privateNotes: db.prepare('SELECT body FROM comments WHERE ticket_id = ? AND public = 0 ORDER BY id').pluck(),
    removeCc: db.prepare('DELETE FROM ticket_ccs WHERE ticket_id = ? AND user_id = ?'),
    addFollower: db.prepare('INSERT INTO ticket_followers (ticket_id, user_id, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    removeFollower: db.prepare('DELETE FROM ticket_followers WHERE ticket_id = ? AND user_id = ?'),
    rememberMid: db.prepare('INSERT INTO message_ids (message_id, ticket_id, direction, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    midTicket: db.prepare('SELECT ticket_id FROM message_ids WHERE message_id = ?').pluck(),
    audit: db.prepare('INSERT INTO audit (ticket_id, at, actor, rule, change, value) VALUES (@ticketId, @at, @actor, @rule, @change, @value)'),
    comments: db.prepare(`SELECT c.id, c.public, c.body, c.created_at, u.email, u.name FROM comments c JOIN users u ON u.id = c.author_id WHERE c.ticket_id = ? ORDER BY c.id`),
    mids: db.prepare('SELECT message_id FROM message_ids WHERE ticket_id = ? ORDER BY created_at, rowid').pluck(),
    clearHistory: db.prepare('UPDATE ticket_ccs SET history_pending = 0 WHERE ticket_id = ? AND user_id = (SELECT id FROM users WHERE email = ?)'),
    owedHistory: db.prepare('SELECT u.email FROM ticket_ccs x JOIN users u ON u.id = x.user_id WHERE x.ticket_id = ? AND x.history_pending = 1').pluck(),
    markRobot: db.prepare('UPDATE users SET is_robot = 1 WHERE email = ?'),
    isRobot: db.prepare('SELECT is_robot FROM users WHERE email = ?').pluck(),
    openIds: db.prepare(`SELECT id FROM tickets WHERE status != 'closed' ORDER BY id`).pluck(),
  };

  function ensureUser(email: string, name?: string | null, opts: { overwriteName?: boolean } = {}): number {
    s.insertUser.run(email, name ?? null, new Date().toISOString());
    const u = s.userByEmail.get(email) as { id: number; name: string | null };
    if (name) (opts.overwriteName ? s.setName : s.fillName).run({ name, id: u.id });
    return u.id;
  }

  return {
    ensureUser,
    userId(email: string): number | undefined {
      return (s.userByEmail.get(email) as { id: number } | undefined)?.id;
    },
    createTicket(t: NewTicket): number {
      const info = s.insertTicket.run({ ...t, assigneeId: t.assigneeId ?? null, tags: JSON.stringify(t.tags), assignedAt: t.assigneeId ? t.now : null });
      return Number(info.lastInsertRowid);
    },
    getState(id: number): TicketState | undefined {
      const r = s.ticket.get(id) as Record<string, unknown> | undefined;
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
        ccs: s.ccs.all(id) as Person[],
        followers: s.followers.all(id) as Person[],
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
    addComment(c: NewComment, attachments: readonly NewAttachment[] = []): number {
      const info = s.insertComment.run({
        ...c,
        public: c.public ? 1 : 0,
        flags: JSON.stringify(c.flags),
        to: JSON.stringify(c.to),
        cc: JSON.stringify(c.cc),
        auth: c.auth ? JSON.stringify(c.auth) : null,
      });
      const commentId = Number(info.lastInsertRowid);
      for (const a of attachments) s.insertAttachment.run(commentId, a.filename, a.contentType, a.size, a.sha256, a.contentId, a.inline ? 1 : 0);
      return commentId;
    },
    setStatus(id: number, status: TicketStatus, now: string): void { s.status.run({ id, status, now }); },
    setAssignee(id: number, userId: number | null, now: string): void { s.assignee.run({ id, userId, now }); },
    setGroup(id: number, group: string | null, now: string): void { s.group.run({ id, group, now }); },
    setRequester(id: number, userId: number, now: string): void { s.requester.run({ id, userId, now }); },
    setTags(id: number, tags: string[], now: string): void { s.tags.run({ id, tags: JSON.stringify(tags), now }); },
    touch(id: number, now: string): void { s.touch.run({ id, now }); },
    /** Adds tags (lower-cased, once each); returns those that were new. */
    addTags(id: number, tags: readonly string[], now: string): string[] {
      const current = json(s.tagsOf.get(id) as string);
      const added = [...new Set(tags.map((t) => t.toLowerCase()))].filter((t) => !current.includes(t));
      if (added.length > 0) s.tags.run({ id, tags: JSON.stringify([...current, ...added]), now });
      return added;
    },
    /** Removes tags; returns those that were there. */
    removeTags(id: number, tags: readonly string[], now: string): string[] {
      const current = json(s.tagsOf.get(id) as string);
      const drop = new Set(tags.map((t) => t.toLowerCase()));
      const removed = current.filter((t) => drop.has(t));
      if (removed.length > 0) s.tags.run({ id, tags: JSON.stringify(current.filter((t) => !drop.has(t))), now });
      return removed;
    },
    /** Adds ticket warnings (e.g. third_party_reply, R33); returns those that were new. */
    addWarnings(id: number, warnings: readonly string[], now: string): string[] {
      const current = json(s.warningsOf.get(id) as string);
      const added = [...new Set(warnings)].filter((w) => !current.includes(w));
      if (added.length > 0) s.warnings.run({ id, warnings: JSON.stringify([...current, ...added]), now });
      return added;
    },
    addCc(id: number, userId: number, now: string): boolean { return s.addCc.run(id, userId, now, 0, null).changes === 1; },
    /** R28: marks a CC added by a message as owed the public history in their first notification. */
    markCcNeedsHistory(id: number, userId: number, commentId: number): void { s.markCcHistory.run(commentId, id, userId); },
    /** R21: the texts of the ticket's private notes. */
    privateNoteBodies(id: number): string[] { return s.privateNotes.all(id) as string[]; },
    removeCc(id: number, userId: number): boolean { return s.removeCc.run(id, userId).changes === 1; },
    addFollower(id: number, userId: number, now: string): boolean { return s.addFollower.run(id, userId, now).changes === 1; },
    removeFollower(id: number, userId: number): boolean { return s.removeFollower.run(id, userId).changes === 1; },
    /** R10: remembers Message-IDs seen (in) or sent (out) for a ticket; the first ticket to claim an id keeps it. */
    rememberMessageIds(ticketId: number, ids: readonly string[], direction: 'in' | 'out', now: string): void {
      for (const mid of ids) s.rememberMid.run(mid, ticketId, direction, now);
    },
    /** The tickets that own any of these Message-IDs, keyed by id. */
    ticketsForMessageIds(ids: readonly string[]): Map<string, number> {
      const out = new Map<string, number>();
      for (const mid of ids) {
        const t = s.midTicket.get(mid) as number | undefined;
        if (t !== undefined) out.set(mid, t);
      }
      return out;
    },
    audit(e: AuditEntry): void { s.audit.run(e); },
    /** Comments with their authors, oldest first, for notification templates. */
    comments(id: number): Array<{ id: number; public: boolean; body: string; createdAt: string; author: { email: string; name: string | null } }> {
      return (s.comments.all(id) as Array<Record<string, unknown>>).map((c) => ({
        id: c.id as number, public: c.public === 1, body: c.body as string, createdAt: c.created_at as string,
        author: { email: c.email as string, name: c.name as string | null },
      }));
    },
    /** Every Message-ID of the ticket, in and out, oldest first (References, R56). */
    messageIds(id: number): string[] { return s.mids.all(id) as string[]; },
    /** R28: CCs added by a message who have not yet been sent the ticket's history. */
    ccsOwedHistory(id: number): string[] { return s.owedHistory.all(id) as string[]; },
    /** R28: the CC has been sent the history. */
    clearCcHistory(id: number, email: string): void { s.clearHistory.run(id, email); },
    /** R42: this address sent automated mail: never notify it. */
    markRobot(email: string): void { s.markRobot.run(email); },
    isRobot(email: string): boolean { return s.isRobot.get(email) === 1; },
    /** Tickets automations look at (R52): everything not closed. */
    openTicketIds(): number[] { return s.openIds.all() as number[]; },
  };
}

export type TicketsRepo = ReturnType<typeof createTicketsRepo>;
