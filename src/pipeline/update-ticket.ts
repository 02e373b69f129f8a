import { DeskgateError } from '../shared/errors.js';
import { TICKET_STATUSES, type TicketStatus } from '../shared/domain.js';
import { normalizeAddress } from '../shared/addresses.js';
import { roleOf, planPolicy } from '../rules/index.js';
import { planChanges, applyChanges, addComment, refusalMessage, type ChangeRequest } from '../changes/index.js';
import type { PipelineContext } from './context.js';

/** Staff actions on a ticket from the CLI (and later the API). */
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

const fail = (message: string, rule?: string | null) => new DeskgateError('UPDATE_REFUSED', rule ? `${message} (${rule})` : message);

/** The update as requests for the change planner, in the order they apply. */
function requestsOf(u: TicketUpdate): ChangeRequest[] {
  const out: ChangeRequest[] = [];
  if (u.assignee !== undefined) out.push({ kind: 'assignee', email: u.assignee, rule: 'R3' });
  if (u.status !== undefined) {
    if (!TICKET_STATUSES.includes(u.status as TicketStatus)) throw fail(`--status must be one of ${TICKET_STATUSES.join(', ')}`);
    out.push({ kind: 'status', to: u.status as TicketStatus, rule: 'R35' });
  }
  if (u.group !== undefined) out.push({ kind: 'group', name: u.group });
  for (const email of u.addFollowers ?? []) out.push({ kind: 'add_follower', email, rule: 'R30' });
  for (const email of u.removeFollowers ?? []) out.push({ kind: 'remove_follower', email, rule: 'R30' });
  for (const email of u.addCcs ?? []) out.push({ kind: 'add_cc', email });
  for (const email of u.removeCcs ?? []) out.push({ kind: 'remove_cc', email });
  if (u.tags && u.tags.length > 0) out.push({ kind: 'add_tags', tags: u.tags });
  return out;
}

/**
 * Plans the whole update with the change planner and applies it in one transaction, or refuses
 * it whole: half an update is worse than none.
 */
export async function updateTicket(ctx: PipelineContext, ticketId: number, u: TicketUpdate, policy: UpdatePolicy): Promise<void> {
  const { tickets, directory } = ctx;
  const now = ctx.clock.now().toISOString();
  await ctx.sql.tx(async () => {
    await tickets.lock(ticketId);
    const ticket = await tickets.getState(ticketId);
    if (!ticket) throw fail(`ticket ${ticketId} not found`);
    if (ticket.status === 'closed') throw fail('a closed ticket never changes', 'R14');
    const author = u.author ? normalizeAddress(u.author) : undefined;
    const authorRole = author ? roleOf(directory, author) : null;
    if (author && authorRole === 'end_user') throw fail(`${author} is not an agent: only staff update tickets from the CLI`);
    if (u.comment && !author) throw fail('--comment needs --author (the agent writing it)');
    if (u.comment && u.comment.body.trim() === '') throw fail('--comment is empty');
    // R19: a light agent's comment is always private.
    const forcedPrivate = authorRole === 'light_agent';
    const isPublic = u.comment ? !u.comment.private && !forcedPrivate : false;
    const requests = requestsOf(u);
    if (isPublic) requests.push({ kind: 'status', to: 'open', onlyFrom: ['new'], rule: 'R36' });
    const plan = planChanges(ticket, requests, { email: author ?? null, role: authorRole }, planPolicy(directory, policy), now);
    const refused = refusalMessage(plan.refused);
    if (refused) throw fail(refused);

    const stamp = { ticketId, actor: author ?? 'cli', now };
    let comment: { id: number; public: boolean; body: string } | null = null;
    if (u.comment && author) {
      const rule = forcedPrivate ? 'R19' : 'explicit';
      const id = await addComment(tickets, stamp, {
        author: { email: author, name: directory.agents.get(author)?.name ?? null }, authorRole: authorRole!,
        public: isPublic, visibilityRule: rule, body: u.comment.body, fullBody: null, htmlBody: null, flags: [], messageId: null,
        to: [], cc: [], auth: null, intakeId: null, via: 'cli',
      });
      comment = { id, public: isPublic, body: u.comment.body };
    }
    await applyChanges(tickets, stamp, plan.changes);
    await ctx.notify({
      kind: 'updated', channel: 'cli',
      currentUser: author ? { email: author, name: directory.agents.get(author)?.name ?? null, role: authorRole! } : null,
      comment, statusFrom: plan.statusFrom, statusChanged: plan.statusChanged,
      assigneeChanged: plan.assigneeChanged, groupChanged: plan.groupChanged,
      inboundParticipants: [], inboundMessageId: null,
    }, ticketId, ctx.clock.now());
  });
}
