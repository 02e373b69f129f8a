import type { ParsedMessage } from '../parse/index.js';
import type { IntakeRow, TicketsRepo } from '../store/index.js';
import type { NewTicketDecision, CommentOnTicketDecision } from '../rules/index.js';
import type { PipelineContext } from './context.js';

export interface Applied {
  ticketId: number;
  commentId: number;
}

type Audit = (change: string, rule: string | null, value: string | null) => void;

/**
 * Carries out a Decision. Runs inside the caller's transaction; every change is audited with
 * the rule that made it.
 */
export function applyDecision(ctx: PipelineContext, row: Pick<IntakeRow, 'id' | 'via'>, parsed: ParsedMessage, decision: NewTicketDecision | CommentOnTicketDecision, now: string, auth: Record<string, string> | null = null): Applied {
  const { tickets } = ctx;
  const user = (address: string, name?: string | null) => tickets.ensureUser(address, ctx.directory.agents.get(address)?.name ?? name ?? null);
  const author = decision.comment.author;
  const authorId = user(author.address, author.name);
  const ticketId = decision.action === 'create_ticket' ? createTicket(ctx, decision, authorId, now) : decision.ticketId;
  const audit: Audit = (change, rule, value) => tickets.audit({ ticketId, at: now, actor: author.address, rule, change, value });

  if (decision.action === 'create_ticket') {
    if (decision.followUpOf !== null) audit('follow_up_created', 'R14', String(decision.followUpOf));
    else audit('ticket_created', 'R12', decision.requester.address);
    if (decision.comment.flags.includes('forwarded')) audit('requester_from_forward', 'R15', decision.requester.address);
    for (const cc of decision.inheritedCcs) {
      if (tickets.addCc(ticketId, user(cc.address, cc.name), now)) audit('cc_added', 'R14', cc.address);
    }
  } else {
    applyFieldChanges(tickets, ticketId, decision, user, audit, now);
    for (const w of tickets.addWarnings(ticketId, decision.warnings, now)) audit('warning_added', 'R33', w);
    tickets.touch(ticketId, now);
  }

  const commentId = tickets.addComment(
    {
      ticketId, authorId, authorRole: author.role,
      public: decision.comment.public, visibilityRule: decision.comment.visibilityRule,
      body: decision.comment.body, fullBody: parsed.text, htmlBody: parsed.html, flags: decision.comment.flags,
      messageId: parsed.messageId, to: parsed.to.map((a) => a.address), cc: parsed.cc.map((a) => a.address),
      auth, intakeId: row.id, via: row.via, now,
    },
    parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.size, sha256: a.sha256, contentId: a.contentId, inline: a.inline })),
  );
  audit(decision.comment.public ? 'public_comment' : 'private_note', decision.comment.visibilityRule, String(commentId));

  for (const c of decision.ccChanges) {
    if (c.change === 'cc_added') {
      const uid = user(c.address, c.name);
      if (tickets.addCc(ticketId, uid, now)) {
        tickets.markCcNeedsHistory(ticketId, uid, commentId); // R28
        audit('cc_added', c.rule, c.address);
      }
    } else if (c.change === 'follower_added') {
      if (tickets.addFollower(ticketId, user(c.address, c.name), now)) audit('follower_added', c.rule, c.address);
    } else if (c.change === 'cc_removed') {
      const uid = tickets.userId(c.address);
      if (uid !== undefined && tickets.removeCc(ticketId, uid)) audit('cc_removed', c.rule, c.address);
    } else {
      audit('cc_not_added', c.rule, `${c.address}: ${c.reason}`);
    }
  }
  for (const cmd of decision.commands) {
    if (cmd.ignored) audit('mail_api_ignored', 'R40', cmd.line);
    else if (cmd.error) audit('mail_api_error', 'R39', `${cmd.line}: ${cmd.error}`);
    else audit('mail_api_command', 'R38', cmd.line);
  }
  if (decision.action === 'create_ticket') applyFieldChanges(tickets, ticketId, decision, user, audit, now);
  if (parsed.messageId) tickets.rememberMessageIds(ticketId, [parsed.messageId], 'in', now);
  const created = decision.action === 'create_ticket';
  ctx.notify({
    kind: created ? 'created' : 'updated',
    channel: 'email',
    currentUser: { email: author.address, name: author.name || null, role: author.role },
    comment: { id: commentId, public: decision.comment.public, body: decision.comment.body },
    statusFrom: decision.changes.status?.from ?? null,
    statusChanged: decision.changes.status !== undefined,
    assigneeChanged: decision.changes.assignee !== undefined,
    // A new ticket that lands in a group has been assigned to it (R51.7).
    groupChanged: created ? decision.group !== null : decision.changes.group !== undefined,
    // R50: those on the inbound mail's To/Cc already have this comment (the author is excluded anyway).
    inboundParticipants: [...parsed.to, ...parsed.cc].map((a) => a.address),
    inboundMessageId: parsed.messageId,
  }, ticketId, new Date(now));
  return { ticketId, commentId };
}

function createTicket(ctx: PipelineContext, d: NewTicketDecision, authorId: number, now: string): number {
  const requesterId = ctx.tickets.ensureUser(d.requester.address, ctx.directory.agents.get(d.requester.address)?.name ?? (d.requester.name || null));
  return ctx.tickets.createTicket({
    subject: d.subject, status: 'new', requesterId, submitterId: authorId, groupName: d.group, recipient: d.recipient,
    via: d.via, followUpOf: d.followUpOf, tags: d.tags, now,
  });
}

function applyFieldChanges(tickets: TicketsRepo, ticketId: number, d: NewTicketDecision | CommentOnTicketDecision, user: (a: string, n?: string | null) => number, audit: Audit, now: string): void {
  const c = d.changes;
  if (c.requester) {
    tickets.setRequester(ticketId, user(c.requester.address), now);
    audit('requester_changed', c.requester.rule, c.requester.address);
  }
  if (c.assignee) {
    tickets.setAssignee(ticketId, user(c.assignee.email), now);
    audit('assignee_changed', c.assignee.rule, c.assignee.email);
  }
  if (c.group && d.action === 'add_comment') {
    tickets.setGroup(ticketId, c.group.name, now);
    audit('group_changed', c.group.rule, c.group.name);
  }
  if (c.tags && d.action === 'add_comment') {
    const added = tickets.addTags(ticketId, c.tags.add, now);
    if (added.length > 0) audit('tags_added', c.tags.rule, added.join(' '));
  }
  if (c.status) {
    tickets.setStatus(ticketId, c.status.to, now);
    audit('status_changed', c.status.rule, `${c.status.from}->${c.status.to}`);
  }
}
