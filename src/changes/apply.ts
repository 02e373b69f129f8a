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
export async function audit(tickets: TicketsRepo, s: Stamp, change: string, rule: string | null, value: string | null): Promise<void> {
  await tickets.audit({ ticketId: s.ticketId, at: s.now, actor: s.actor, rule, change, value });
}

function userOf(tickets: TicketsRepo, p: Person): Promise<number> {
  return tickets.ensureUser(p.email, p.name);
}

/** Writes one change; returns the audit value, or null when the store found nothing to do. */
async function write(tickets: TicketsRepo, s: Stamp, c: Change, commentId: number | null): Promise<string | null> {
  const { ticketId: id, now } = s;
  switch (c.change) {
    case 'status_changed': await tickets.setStatus(id, c.to, now); return `${c.from}->${c.to}`;
    case 'assignee_changed': await tickets.setAssignee(id, await userOf(tickets, c.person), now); return c.person.email;
    case 'group_changed': await tickets.setGroup(id, c.group, now); return c.group;
    case 'requester_changed': await tickets.setRequester(id, await userOf(tickets, c.person), now); return c.person.email;
    case 'tags_added': { const t = await tickets.addTags(id, c.tags, now); return t.length > 0 ? t.join(' ') : null; }
    case 'tags_removed': { const t = await tickets.removeTags(id, c.tags, now); return t.length > 0 ? t.join(' ') : null; }
    case 'cc_added': {
      const uid = await userOf(tickets, c.person);
      if (!(await tickets.addCc(id, uid, now))) return null;
      if (c.history && commentId !== null) await tickets.markCcNeedsHistory(id, uid, commentId); // R28
      return c.person.email;
    }
    case 'cc_removed': { const uid = await tickets.userId(c.email); return uid !== undefined && (await tickets.removeCc(id, uid)) ? c.email : null; }
    case 'follower_added': return (await tickets.addFollower(id, await userOf(tickets, c.person), now)) ? c.person.email : null;
    case 'follower_removed': { const uid = await tickets.userId(c.email); return uid !== undefined && (await tickets.removeFollower(id, uid)) ? c.email : null; }
    case 'warning_added': return (await tickets.addWarnings(id, [c.warning], now)).length > 0 ? c.warning : null;
  }
}

/**
 * Carries out planned changes and audit notes; the ticket's updated_at moves with any change.
 * `commentId` is the comment the update carries (R28 history for CCs it adds).
 */
export async function applyChanges(tickets: TicketsRepo, s: Stamp, changes: readonly Change[], opts: { notes?: readonly AuditNote[]; commentId?: number | null } = {}): Promise<void> {
  let people = false;
  for (const c of changes) {
    const value = await write(tickets, s, c, opts.commentId ?? null);
    if (value === null) continue;
    await audit(tickets, s, c.change, c.rule, value);
    people ||= PEOPLE.has(c.change);
  }
  for (const n of opts.notes ?? []) await audit(tickets, s, n.change, n.rule, n.value);
  // Field writes stamp updated_at themselves; CC and follower rows do not.
  if (people) await tickets.touch(s.ticketId, s.now);
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
export async function createTicket(tickets: TicketsRepo, t: NewTicketRecord, actor: string): Promise<number> {
  const status: TicketStatus = 'new';
  const ticketId = await tickets.createTicket({
    subject: t.subject, status, requesterId: await userOf(tickets, t.requester), submitterId: t.submitter ? await userOf(tickets, t.submitter) : null,
    groupName: t.group, recipient: t.recipient, via: t.via, followUpOf: t.followUpOf, tags: t.tags, now: t.now,
  });
  const s = { ticketId, actor, now: t.now };
  if (t.followUpOf !== null) await audit(tickets, s, 'follow_up_created', 'R14', String(t.followUpOf));
  else await audit(tickets, s, 'ticket_created', 'R12', t.requester.email);
  return ticketId;
}

export type CommentRecord = Omit<NewComment, 'ticketId' | 'authorId' | 'now'> & { author: Person };

/** Adds a public comment or private note with its attachments, audited with its visibility rule (R22). */
export async function addComment(tickets: TicketsRepo, s: Stamp, c: CommentRecord, attachments: readonly NewAttachment[] = []): Promise<number> {
  const { author, ...rest } = c;
  const commentId = await tickets.addComment({ ...rest, ticketId: s.ticketId, authorId: await userOf(tickets, author), now: s.now }, attachments);
  await audit(tickets, s, c.public ? 'public_comment' : 'private_note', c.visibilityRule, String(commentId));
  await tickets.touch(s.ticketId, s.now);
  return commentId;
}
