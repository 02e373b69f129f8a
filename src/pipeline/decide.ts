import type { ParsedMessage } from '../parse/index.js';
import type { IntakeRow } from '../store/index.js';
import { matchThread, verifyReplyToken, tokenFromAddress, type ThreadMatch } from '../thread/index.js';
import { evaluate, supportAddressOf, isFullAgent, roleOf, automatedReason, preRulesSuspension, type Decision } from '../rules/index.js';
import type { TicketState } from '../shared/domain.js';
import { trustedAuthResults, type AuthSummary, type AuthOutcome } from '../trust/index.js';
import type { PipelineContext } from './context.js';

export interface Decided {
  match: ThreadMatch;
  ticket: TicketState | null;
  decision: Decision;
  /** Sender authentication results stored with the comment, or null when not checked. */
  auth: AuthSummary | null;
  /** R42: why the message is automated, or null. */
  automated: string | null;
}

type DecideRow = Pick<IntakeRow, 'envelope_to' | 'envelope_from' | 'via'> & Partial<Pick<IntakeRow, 'id' | 'sender' | 'sender_recent' | 'received_at' | 'skip_checks' | 'message_id_reused'>>;

/** R42: why the message is automated, or null for a person (or when a release skips the check). */
export function automatedOf(row: Pick<DecideRow, 'envelope_from' | 'via' | 'skip_checks'>, parsed: ParsedMessage): string | null {
  if ((row.skip_checks ?? []).includes('automated_response')) return null;
  // An empty return path is known where an envelope came with the mail.
  const nullSender = (row.via === 'smtp' || row.via === 'lmtp') && !row.envelope_from;
  return automatedReason(parsed.trust, parsed.from[0]?.address ?? row.envelope_from, nullSender);
}

/**
 * Reads what trust, threading and the rules need from the store, then runs the pure deciders.
 * Writes nothing: `explain` uses the same function for its dry run. `smtpAuth` is the result of
 * authenticating an SMTP message (null when not checked).
 */
export async function decide(ctx: PipelineContext, row: DecideRow, parsed: ParsedMessage, smtpAuth: AuthOutcome | null = null): Promise<Decided> {
  const sender = parsed.from[0]?.address ?? row.envelope_from;
  const skip = row.skip_checks ?? [];
  // R44: SMTP mail is authenticated by deskgate; polled, piped and LMTP mail carries the trusted
  // server's Authentication-Results (the MTA in front saw the sending client); anything else is
  // not believed.
  const auth: AuthSummary | null = !ctx.trust.verify ? null
    : row.via === 'smtp' ? (smtpAuth ? { spf: smtpAuth.spf, dkim: smtpAuth.dkim, dmarc: smtpAuth.dmarc } : null)
    : trustedAuthResults(parsed.trust.authenticationResults, ctx.trust.trustedAuthservId);
  const senderVerified = !ctx.trust.verify || !ctx.trust.requireAuthenticatedAgents || skip.includes('unverified_agent') || auth?.dmarc === 'pass';
  const automated = automatedOf(row, parsed);

  const ids = [...parsed.inReplyTo, ...parsed.references];
  const ticketByMessageId = await ctx.tickets.ticketsForMessageIds(ids);
  const supportRecipients = [...row.envelope_to, ...parsed.to.map((a) => a.address), ...parsed.cc.map((a) => a.address)]
    .filter((a) => supportAddressOf(ctx.directory, a) !== undefined);
  const addressTokenTickets = supportRecipients
    .map((a) => tokenFromAddress(a))
    .map((t) => (t ? verifyReplyToken(t, ctx.secret) : undefined))
    .filter((id): id is number => id !== undefined);
  const bodyTokenTickets = parsed.bodyTokens
    .map((t) => verifyReplyToken(t, ctx.secret))
    .filter((id): id is number => id !== undefined);
  // Threading is pure: read every ticket it may look at first, each under its row lock (R71: on
  // PostgreSQL another node may be changing it; the lock holds until this message is stored).
  const states = new Map<number, TicketState | undefined>();
  for (const id of new Set([...ticketByMessageId.values(), ...addressTokenTickets, ...bodyTokenTickets])) {
    await ctx.tickets.lock(id);
    states.set(id, await ctx.tickets.getState(id));
  }
  const stateOf = (id: number) => states.get(id);
  const match = matchThread(
    { inReplyTo: parsed.inReplyTo, references: parsed.references, addressTokenTickets, bodyTokenTickets },
    { ticketByMessageId, statusOf: (id) => stateOf(id)?.status },
  );
  const matchedId = match.kind === 'reply' ? match.ticketId : match.kind === 'follow_up' ? match.closedTicketId : null;
  const ticket = matchedId !== null ? stateOf(matchedId)! : null;

  // R43, R45: checks that hold a message before any rule runs.
  const held = preRulesSuspension({
    fromSupportAddress: sender !== null && supportAddressOf(ctx.directory, sender) !== undefined,
    // Counted when the message was received (intake insert), so a backlog or a retry counts the same.
    senderCountBefore: row.sender_recent ?? 0,
    perSenderPerHour: ctx.limits.perSenderPerHour,
    dmarc: auth?.dmarc ?? null,
    dmarcPolicy: smtpAuth?.dmarcPolicy ?? null,
    skip,
  });
  if (held) {
    const author = { address: sender ?? '', name: parsed.from[0]?.name ?? '', role: sender ? roleOf(ctx.directory, sender) : 'end_user' as const };
    return { match, ticket, auth, automated, decision: { action: 'suspend', reason: held.reason, rule: held.rule, author, rules: [held.rule] } };
  }

  const privateNotes = ticket && sender && isFullAgent(roleOf(ctx.directory, sender)) ? await ctx.tickets.privateNoteBodies(ticket.id) : [];
  const decision = evaluate(
    {
      message: { ...parsed, body: parsed.visibleText, text: parsed.text },
      envelopeFrom: row.envelope_from, envelopeTo: row.envelope_to, via: row.via, match, ticket, privateNotes,
      senderVerified, automated,
    },
    ctx.directory,
    ctx.settings,
  );
  // R65: a different message that reuses a stored Message-ID says so on its comment.
  if (row.message_id_reused && decision.action !== 'suspend') decision.comment.flags.push('message_id_reused');
  // R61: HTML reduced to its text (html_simplified) or converted only in part (truncated).
  if (decision.action !== 'suspend') decision.comment.flags.push(...parsed.flags);
  return { match, ticket, decision, auth, automated };
}
