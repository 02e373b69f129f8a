import { DeskgateError } from '../shared/errors.js';
import { TICKET_STATUSES, isValidTag, type TicketStatus } from '../shared/domain.js';
import { normalizeAddress, isPlausibleAddress } from '../shared/addresses.js';
import { checkStatusChange, isBlocklisted, roleOf, supportAddressOf, isFullAgent } from '../rules/index.js';
import type { PipelineContext } from './context.js';

/** Staff actions on a ticket from the CLI (and later the API and trigger actions). */
export interface TicketUpdate {
  status?: string | undefined;
  assignee?: string | undefined;
  group?: string | undefined;
  addFollowers?: string[];
  removeFollowers?: string[];
  addCcs?: string[];
  removeCcs?: string[];
  tags?: string[];
  comment?: { body: string; private: boolean } | undefined;
  /** The staff member acting; required for a comment. */
  author?: string | undefined;
}

export interface UpdatePolicy {
  groups: readonly string[];
  ccs: { enabled: boolean; max: number; blocklist: readonly string[] };
}

const fail = (message: string, rule?: string) => new DeskgateError('UPDATE_REFUSED', rule ? `${message} (${rule})` : message);

/**
 * Validates and applies an update in one transaction, auditing each change with its rule.
 * Anything invalid refuses the whole update: half an update is worse than none.
 */
export function updateTicket(ctx: PipelineContext, ticketId: number, u: TicketUpdate, policy: UpdatePolicy): void {
  const { tickets, directory } = ctx;
  const now = ctx.clock.now().toISOString();
  ctx.db.transaction(() => {
    const ticket = tickets.getState(ticketId);
    if (!ticket) throw fail(`ticket ${ticketId} not found`);
    if (ticket.status === 'closed') throw fail('a closed ticket never changes', 'R14');
    const author = u.author ? normalizeAddress(u.author) : undefined;
    const authorRole = author ? roleOf(directory, author) : null;
    if (author && authorRole === 'end_user') throw fail(`${author} is not an agent: only staff update tickets from the CLI`);
    const actor = author ?? 'cli';
    const audit = (change: string, rule: string | null, value: string | null) => tickets.audit({ ticketId, at: now, actor, rule, change, value });
    const addr = (raw: string, what: string) => {
      const a = normalizeAddress(raw);
      if (!isPlausibleAddress(a)) throw fail(`${what}: "${raw}" is not an email address`);
      return a;
    };
    let assignee = ticket.assignee?.email ?? null;
    let status: TicketStatus = ticket.status;
    let groupChanged = false;
    let comment: { id: number; public: boolean; body: string } | null = null;

    if (u.assignee !== undefined) {
      const a = addr(u.assignee, '--assignee');
      if (!isFullAgent(roleOf(directory, a))) throw fail(`--assignee ${a} is not an agent or admin`, 'R3');
      if (a !== assignee) {
        tickets.setAssignee(ticketId, tickets.ensureUser(a, directory.agents.get(a)?.name ?? null), now);
        audit('assignee_changed', 'R3', a);
        assignee = a;
        if (status === 'new' && u.status === undefined) {
          tickets.setStatus(ticketId, 'open', now);
          audit('status_changed', 'R35', 'new->open');
          status = 'open';
        }
      }
    }
    if (u.status !== undefined) {
      if (!TICKET_STATUSES.includes(u.status as TicketStatus)) throw fail(`--status must be one of ${TICKET_STATUSES.join(', ')}`);
      const to = u.status as TicketStatus;
      const check = checkStatusChange({ status, assignee: assignee ? { email: assignee, name: null } : null }, to, authorRole);
      if (!check.ok) throw fail(check.reason, check.rule);
      if (check.assignActor && author) {
        tickets.setAssignee(ticketId, tickets.ensureUser(author), now);
        audit('assignee_changed', 'R35', author);
      }
      if (to !== status) {
        tickets.setStatus(ticketId, to, now);
        audit('status_changed', 'R35', `${status}->${to}`);
        status = to;
      }
    }
    if (u.group !== undefined) {
      if (!policy.groups.includes(u.group)) throw fail(`--group "${u.group}" is not a configured group`);
      if (u.group !== ticket.group) {
        tickets.setGroup(ticketId, u.group, now);
        audit('group_changed', null, u.group);
        groupChanged = true;
      }
    }
    for (const raw of u.addFollowers ?? []) {
      const a = addr(raw, '--add-follower');
      if (roleOf(directory, a) === 'end_user') throw fail(`--add-follower ${a}: only agents and light agents can follow`, 'R30');
      if (isBlocklisted(a, policy.ccs.blocklist)) throw fail(`--add-follower ${a} is blocklisted`, 'R25');
      if (tickets.addFollower(ticketId, tickets.ensureUser(a, directory.agents.get(a)?.name ?? null), now)) audit('follower_added', 'R30', a);
    }
    for (const raw of u.removeFollowers ?? []) {
      const a = addr(raw, '--remove-follower');
      const id = tickets.userId(a);
      if (id !== undefined && tickets.removeFollower(ticketId, id)) audit('follower_removed', 'R30', a);
    }
    let ccCount = ticket.ccs.length;
    for (const raw of u.addCcs ?? []) {
      const a = addr(raw, '--add-cc');
      if (supportAddressOf(directory, a)) throw fail(`--add-cc ${a} is a support address`, 'R1');
      if (isBlocklisted(a, policy.ccs.blocklist)) throw fail(`--add-cc ${a} is blocklisted`, 'R25');
      if (a === ticket.requester.email) throw fail(`--add-cc ${a} is the requester`, 'R25');
      if (ticket.ccs.some((c) => c.email === a)) continue;
      if (ccCount >= policy.ccs.max) throw fail(`--add-cc ${a}: the ticket already has ${policy.ccs.max} CCs`, 'R25');
      if (tickets.addCc(ticketId, tickets.ensureUser(a), now)) { audit('cc_added', null, a); ccCount++; }
    }
    for (const raw of u.removeCcs ?? []) {
      const a = addr(raw, '--remove-cc');
      const id = tickets.userId(a);
      if (id !== undefined && tickets.removeCc(ticketId, id)) audit('cc_removed', null, a);
    }
    if (u.tags && u.tags.length > 0) {
      const bad = u.tags.find((t) => !isValidTag(t));
      if (bad !== undefined) throw fail(`--tag "${bad}": tags are single words (letters, digits, _ . : -)`);
      const added = tickets.addTags(ticketId, u.tags, now);
      if (added.length > 0) audit('tags_added', null, added.join(' '));
    }
    if (u.comment) {
      if (!author) throw fail('--comment needs --author (the agent writing it)');
      if (u.comment.body.trim() === '') throw fail('--comment is empty');
      const forcedPrivate = authorRole === 'light_agent';
      const isPublic = !u.comment.private && !forcedPrivate;
      const rule = forcedPrivate ? 'R19' : 'explicit';
      const commentId = tickets.addComment({
        ticketId, authorId: tickets.ensureUser(author, directory.agents.get(author)?.name ?? null), authorRole: authorRole!,
        public: isPublic, visibilityRule: rule, body: u.comment.body, fullBody: null, htmlBody: null, flags: [], messageId: null,
        to: [], cc: [], auth: null, intakeId: null, via: 'cli', now,
      });
      audit(isPublic ? 'public_comment' : 'private_note', rule, String(commentId));
      comment = { id: commentId, public: isPublic, body: u.comment.body };
      if (isPublic && status === 'new') {
        tickets.setStatus(ticketId, 'open', now);
        audit('status_changed', 'R36', 'new->open');
        status = 'open';
      }
    }
    tickets.touch(ticketId, now);
    ctx.notify({
      kind: 'updated', channel: 'cli',
      currentUser: author ? { email: author, name: directory.agents.get(author)?.name ?? null, role: authorRole! } : null,
      comment, statusFrom: status !== ticket.status ? ticket.status : null, statusChanged: status !== ticket.status,
      assigneeChanged: assignee !== (ticket.assignee?.email ?? null), groupChanged,
      inboundParticipants: [], inboundMessageId: null,
    }, ticketId, ctx.clock.now());
  }).immediate();
}
