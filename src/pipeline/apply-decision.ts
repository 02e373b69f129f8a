import type { ParsedMessage } from '../parse/index.js';
import type { IntakeRow } from '../store/index.js';
import type { Decision } from '../rules/index.js';
import type { PipelineContext } from './context.js';

export interface Applied {
  ticketId: number;
  commentId: number;
}

/** Carries out a Decision. Runs inside the caller's transaction; every change is audited with its rule. */
export function applyDecision(ctx: PipelineContext, row: Pick<IntakeRow, 'id' | 'via'>, parsed: ParsedMessage, decision: Decision, now: string): Applied {
  const { tickets } = ctx;
  const nameOf = (address: string, fallback: string) => ctx.directory.agents.get(address)?.name ?? fallback;
  const author = decision.comment.author;
  const authorId = tickets.ensureUser(author.address, nameOf(author.address, author.name));
  let ticketId: number;

  if (decision.action === 'create_ticket') {
    const requesterId = tickets.ensureUser(decision.requester.address, nameOf(decision.requester.address, decision.requester.name));
    ticketId = tickets.createTicket({
      subject: decision.subject,
      status: 'new',
      requesterId,
      submitterId: authorId,
      groupName: decision.group,
      recipient: decision.recipient,
      via: decision.via,
      followUpOf: decision.followUpOf,
      tags: decision.tags,
      now,
    });
    const audit = (change: string, rule: string, value: string | null) => tickets.audit({ ticketId, at: now, actor: author.address, rule, change, value });
    if (decision.followUpOf !== null) audit('follow_up_created', 'R14', String(decision.followUpOf));
    else audit('ticket_created', 'R12', decision.requester.address);
    for (const cc of decision.ccs) {
      if (tickets.addCc(ticketId, tickets.ensureUser(cc.address, cc.name), now)) audit('cc_added', 'R14', cc.address);
    }
  } else {
    ticketId = decision.ticketId;
    const audit = (change: string, rule: string, value: string | null) => tickets.audit({ ticketId, at: now, actor: author.address, rule, change, value });
    if (decision.statusChange) {
      tickets.setStatus(ticketId, decision.statusChange.to, now);
      audit('status_changed', decision.statusChange.rule, `${decision.statusChange.from}->${decision.statusChange.to}`);
    }
    if (decision.warnings.length > 0) {
      const state = tickets.getState(ticketId)!;
      tickets.setWarnings(ticketId, [...new Set([...state.warnings, ...decision.warnings])], now);
      for (const w of decision.warnings) audit('warning_added', 'R33', w);
    }
    tickets.touch(ticketId, now);
  }

  const commentId = tickets.addComment(
    {
      ticketId,
      authorId,
      authorRole: author.role,
      public: decision.comment.public,
      visibilityRule: decision.comment.visibilityRule,
      body: parsed.visibleText,
      fullBody: parsed.text,
      htmlBody: parsed.html,
      flags: decision.comment.flags,
      messageId: parsed.messageId,
      to: parsed.to.map((a) => a.address),
      cc: parsed.cc.map((a) => a.address),
      auth: null,
      intakeId: row.id,
      via: row.via,
      now,
    },
    parsed.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.size, sha256: a.sha256, contentId: a.contentId, inline: a.inline })),
  );
  tickets.audit({ ticketId, at: now, actor: author.address, rule: decision.comment.visibilityRule, change: decision.comment.public ? 'public_comment' : 'private_note', value: String(commentId) });
  if (parsed.messageId) tickets.rememberMessageIds(ticketId, [parsed.messageId], 'in', now);
  return { ticketId, commentId };
}
