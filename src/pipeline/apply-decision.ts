import type { ParsedMessage } from '../parse/index.js';
import type { IntakeRow } from '../store/index.js';
import { planPolicy, type NewTicketDecision, type CommentOnTicketDecision } from '../rules/index.js';
import { planChanges, applyChanges, createTicket, addComment, type ChangeRequest, type AuditNote, type ChangePlan, type Stamp } from '../changes/index.js';
import type { Person, TicketState } from '../shared/domain.js';
import type { PipelineContext } from './context.js';

export interface Applied {
  ticketId: number;
  commentId: number;
}

type EmailDecision = NewTicketDecision | CommentOnTicketDecision;

/** The decision's ticket changes as requests for the one change planner. */
function requestsOf(d: EmailDecision): ChangeRequest[] {
  const c = d.changes;
  const out: ChangeRequest[] = [];
  if (d.action === 'create_ticket') for (const cc of d.inheritedCcs) out.push({ kind: 'add_cc', email: cc.address, name: cc.name, rule: 'R14' });
  if (c.requester) out.push({ kind: 'requester', email: c.requester.address, rule: c.requester.rule });
  for (const x of d.ccChanges) {
    if (x.change === 'cc_added') out.push({ kind: 'add_cc', email: x.address, name: x.name, rule: x.rule, history: true });
    else if (x.change === 'follower_added') out.push({ kind: 'add_follower', email: x.address, name: x.name, rule: x.rule });
    else if (x.change === 'cc_removed') out.push({ kind: 'remove_cc', email: x.address, rule: x.rule });
  }
  if (c.assignee) out.push({ kind: 'assignee', email: c.assignee.email, rule: c.assignee.rule });
  if (d.action === 'add_comment') {
    if (c.group) out.push({ kind: 'group', name: c.group.name, rule: c.group.rule });
    if (c.tags) out.push({ kind: 'add_tags', tags: c.tags.add, rule: c.tags.rule });
  }
  if (c.status) out.push({ kind: 'status', to: c.status.to, rule: c.status.rule });
  for (const w of d.warnings) out.push({ kind: 'add_warning', warning: w, rule: 'R33' });
  return out;
}

/** What the decision records beside field changes: CCs not added, Mail API lines, refusals. */
function notesOf(d: EmailDecision, plan: ChangePlan<TicketState>): AuditNote[] {
  const notes: AuditNote[] = [];
  if (d.action === 'create_ticket' && d.comment.flags.includes('forwarded')) notes.push({ change: 'requester_from_forward', rule: 'R15', value: d.requester.address });
  for (const x of d.ccChanges) if (x.change === 'cc_not_added') notes.push({ change: 'cc_not_added', rule: x.rule, value: `${x.address}: ${x.reason}` });
  for (const cmd of d.commands) {
    if (cmd.ignored) notes.push({ change: 'mail_api_ignored', rule: 'R40', value: cmd.line });
    else if (cmd.error) notes.push({ change: 'mail_api_error', rule: 'R39', value: `${cmd.line}: ${cmd.error}` });
    else notes.push({ change: 'mail_api_command', rule: 'R38', value: cmd.line });
  }
  for (const r of plan.refused) if (!r.alreadySo) notes.push({ change: 'change_refused', rule: r.rule, value: `${r.request.kind}: ${r.reason}` });
  return notes;
}

/**
 * Carries out an email Decision through the change planner and executor (src/changes), in the
 * caller's transaction, then hands the update to the triggers (R46).
 */
export async function applyDecision(ctx: PipelineContext, row: Pick<IntakeRow, 'id' | 'via'>, parsed: ParsedMessage, decision: EmailDecision, now: string, auth: Record<string, string> | null = null): Promise<Applied> {
  const { tickets, directory } = ctx;
  const person = (address: string, name?: string | null): Person => ({ email: address, name: directory.agents.get(address)?.name ?? (name || null) });
  const author = decision.comment.author;
  const created = decision.action === 'create_ticket';
  const ticketId = created
    ? await createTicket(tickets, {
      subject: decision.subject, requester: person(decision.requester.address, decision.requester.name), submitter: person(author.address, author.name),
      group: decision.group, recipient: decision.recipient, via: decision.via, followUpOf: decision.followUpOf, tags: decision.tags, now,
    }, author.address)
    : decision.ticketId;
  const stamp: Stamp = { ticketId, actor: author.address, now };
  const before = (await tickets.getState(ticketId))!;
  const commentId = await addComment(tickets, stamp, {
    author: person(author.address, author.name), authorRole: author.role,
    public: decision.comment.public, visibilityRule: decision.comment.visibilityRule,
    body: decision.comment.body, fullBody: parsed.text, htmlBody: parsed.html, flags: decision.comment.flags,
    messageId: parsed.messageId, to: parsed.to.map((a) => a.address), cc: parsed.cc.map((a) => a.address),
    auth, intakeId: row.id, via: row.via,
  }, parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.size, sha256: a.sha256, contentId: a.contentId, inline: a.inline })));
  const plan = planChanges(before, requestsOf(decision), { email: author.address, role: author.role }, planPolicy(directory, ctx.settings), now);
  await applyChanges(tickets, stamp, plan.changes, { notes: notesOf(decision, plan), commentId });
  if (parsed.messageId) await tickets.rememberMessageIds(ticketId, [parsed.messageId], 'in', now);
  await ctx.notify({
    kind: created ? 'created' : 'updated',
    channel: 'email',
    currentUser: { email: author.address, name: author.name || null, role: author.role },
    comment: { id: commentId, public: decision.comment.public, body: decision.comment.body },
    statusFrom: plan.statusFrom,
    statusChanged: plan.statusChanged,
    assigneeChanged: plan.assigneeChanged,
    // A new ticket that lands in a group has been assigned to it (R51.7).
    groupChanged: created ? decision.group !== null : plan.groupChanged,
    // R50: those on the inbound mail's To/Cc already have this comment (the author is excluded anyway).
    inboundParticipants: [...parsed.to, ...parsed.cc].map((a) => a.address),
    inboundMessageId: parsed.messageId,
  }, ticketId, new Date(now));
  return { ticketId, commentId };
}
