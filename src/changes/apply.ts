import type { TicketsRepo, NewComment, NewAttachment } from '../store/index.js';
import type { Person, TicketStatus } from '../shared/domain.js';
import type { Change } from './plan.js';

/**
 * The one writer of ticket fields: carries out what src/changes/plan.ts planned, and writes one
 * audit row per change, all in the caller's transaction. Email, triggers, automations, the CLI
 * and the API all end here, so the audit log reads the same whoever asked.
 */
export interface Stamp {
  ticketId: number;
  /** Who the audit names: an address, `cli`, `trigger:<id>`, `automation:<id>`. */
  actor: string;
  now: string;
}

/** An audit-only entry: something decided but not a field change (Mail API lines, CCs not added). */
export interface AuditNote {
  change: string;
  rule: string | null;
  value: string | null;
}

/** The one way to write an audit row. */
export function audit(tickets: TicketsRepo, s: Stamp, change: string, rule: string | null, value: string | null): void {
  tickets.audit({ ticketId: s.ticketId, at: s.now, actor: s.actor, rule, change, value });
}

function userOf(tickets: TicketsRepo, p: Person): number {
  return tickets.ensureUser(p.email, p.name);
}

/** Writes one change; returns the audit value, or null when the store found nothing to do. */
function write(tickets: TicketsRepo, s: Stamp, c: Change, commentId: number | null): string | null {
  const { ticketId: id, now } = s;
  switch (c.change) {
    case 'status_changed': tickets.setStatus(id, c.to, now); return `${c.from}->${c.to}`;
    case 'assignee_changed': tickets.setAssignee(id, userOf(tickets, c.person), now); return c.person.email;
    case 'group_changed': tickets.setGroup(id, c.group, now); return c.group;
    case 'requester_changed': tickets.setRequester(id, userOf(tickets, c.person), now); return c.person.email;
    case 'tags_added': { const t = tickets.addTags(id, c.tags, now); return t.length > 0 ? t.join(' ') : null; }
    case 'tags_removed': { const t = tickets.removeTags(id, c.tags, now); return t.length > 0 ? t.join(' ') : null; }
    case 'cc_added': {
      const uid = userOf(tickets, c.person);
      if (!tickets.addCc(id, uid, now)) return null;
      if (c.history && commentId !== null) tickets.markCcNeedsHistory(id, uid, commentId); // R28
      return c.person.email;
    }
    case 'cc_removed': { const uid = tickets.userId(c.email); return uid !== undefined && tickets.removeCc(id, uid) ? c.email : null; }
    case 'follower_added': return tickets.addFollower(id, userOf(tickets, c.person), now) ? c.person.email : null;
    case 'follower_removed': { const uid = tickets.userId(c.email); return uid !== undefined && tickets.removeFollower(id, uid) ? c.email : null; }
    case 'warning_added': return tickets.addWarnings(id, [c.warning], now).length > 0 ? c.warning : null;
  }
}

/**
 * Carries out planned changes and audit notes; the ticket's updated_at moves with any change.
 * `commentId` is the comment the update carries (R28 history for CCs it adds).
 */
export function applyChanges(tickets: TicketsRepo, s: Stamp, changes: readonly Change[], opts: { notes?: readonly AuditNote[]; commentId?: number | null } = {}): void {
  let people = false;
  for (const c of changes) {
    const value = write(tickets, s, c, opts.commentId ?? null);
    if (value === null) continue;
    audit(tickets, s, c.change, c.rule, value);
    people ||= PEOPLE.has(c.change);
  }
  for (const n of opts.notes ?? []) audit(tickets, s, n.change, n.rule, n.value);
  // Field writes stamp updated_at themselves; CC and follower rows do not.
  if (people) tickets.touch(s.ticketId, s.now);
}

const PEOPLE = new Set<Change['change']>(['cc_added', 'cc_removed', 'follower_added', 'follower_removed']);

export interface NewTicketRecord {
  subject: string;
  requester: Person;
  submitter: Person | null;
  group: string | null;
  recipient: string;
  via: string;
  followUpOf: number | null;
  tags: string[];
  now: string;
}

/** Creates a ticket (status new, R12/R14); its other changes follow through applyChanges. */
export function createTicket(tickets: TicketsRepo, t: NewTicketRecord, actor: string): number {
  const status: TicketStatus = 'new';
  const ticketId = tickets.createTicket({
    subject: t.subject, status, requesterId: userOf(tickets, t.requester), submitterId: t.submitter ? userOf(tickets, t.submitter) : null,
    groupName: t.group, recipient: t.recipient, via: t.via, followUpOf: t.followUpOf, tags: t.tags, now: t.now,
  });
  const s = { ticketId, actor, now: t.now };
  if (t.followUpOf !== null) audit(tickets, s, 'follow_up_created', 'R14', String(t.followUpOf));
  else audit(tickets, s, 'ticket_created', 'R12', t.requester.email);
  return ticketId;
}

export type CommentRecord = Omit<NewComment, 'ticketId' | 'authorId' | 'now'> & { author: Person };

/** Adds a public comment or private note with its attachments, audited with its visibility rule (R22). */
export function addComment(tickets: TicketsRepo, s: Stamp, c: CommentRecord, attachments: readonly NewAttachment[] = []): number {
  const { author, ...rest } = c;
  const commentId = tickets.addComment({ ...rest, ticketId: s.ticketId, authorId: userOf(tickets, author), now: s.now }, attachments);
  audit(tickets, s, c.public ? 'public_comment' : 'private_note', c.visibilityRule, String(commentId));
  tickets.touch(s.ticketId, s.now);
  return commentId;
}
