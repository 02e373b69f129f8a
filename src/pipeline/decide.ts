import type { ParsedMessage } from '../parse/index.js';
import type { IntakeRow } from '../store/index.js';
import { matchThread, verifyReplyToken, tokenFromAddress, type ThreadMatch } from '../thread/index.js';
import { evaluate, supportAddressOf, isFullAgent, roleOf, type Decision } from '../rules/index.js';
import type { TicketState } from '../shared/domain.js';
import { trustedAuthResults, type AuthSummary } from '../trust/index.js';
import type { PipelineContext } from './context.js';

export interface Decided {
  match: ThreadMatch;
  ticket: TicketState | null;
  decision: Decision;
  /** Sender authentication results stored with the comment, or null when not checked. */
  auth: AuthSummary | null;
}

/**
 * Reads what threading and the rules need from the store, then runs the pure deciders.
 * Writes nothing: `explain` uses the same function for its dry run.
 */
export function decide(ctx: PipelineContext, row: Pick<IntakeRow, 'envelope_to' | 'envelope_from' | 'via'>, parsed: ParsedMessage): Decided {
  const ids = [...parsed.inReplyTo, ...parsed.references];
  const ticketByMessageId = ctx.tickets.ticketsForMessageIds(ids);
  const supportRecipients = [...row.envelope_to, ...parsed.to.map((a) => a.address), ...parsed.cc.map((a) => a.address)]
    .filter((a) => supportAddressOf(ctx.directory, a) !== undefined);
  const addressTokenTickets = supportRecipients
    .map((a) => tokenFromAddress(a))
    .map((t) => (t ? verifyReplyToken(t, ctx.secret) : undefined))
    .filter((id): id is number => id !== undefined);
  const bodyTokenTickets = parsed.bodyTokens
    .map((t) => verifyReplyToken(t, ctx.secret))
    .filter((id): id is number => id !== undefined);
  const states = new Map<number, TicketState | undefined>();
  const stateOf = (id: number) => {
    if (!states.has(id)) states.set(id, ctx.tickets.getState(id));
    return states.get(id);
  };
  const match = matchThread(
    { inReplyTo: parsed.inReplyTo, references: parsed.references, addressTokenTickets, bodyTokenTickets },
    { ticketByMessageId, statusOf: (id) => stateOf(id)?.status },
  );
  const ticket = match.kind === 'reply' ? stateOf(match.ticketId)! : match.kind === 'follow_up' ? stateOf(match.closedTicketId)! : null;
  const sender = parsed.from[0]?.address ?? row.envelope_from;
  // R44: polled and piped mail carry the trusted server's Authentication-Results. SMTP mail is
  // checked in the SMTP session by the trust stage; until that lands it counts as verified.
  const auth = ctx.trust.verify && row.via !== 'smtp' ? trustedAuthResults(parsed.trust.authenticationResults, ctx.trust.trustedAuthservId) : null;
  const senderVerified = !ctx.trust.verify || !ctx.trust.requireAuthenticatedAgents || row.via === 'smtp' || auth?.dmarc === 'pass';
  const privateNotes = ticket && sender && isFullAgent(roleOf(ctx.directory, sender)) ? ctx.tickets.privateNoteBodies(ticket.id) : [];
  const decision = evaluate(
    {
      message: { ...parsed, body: parsed.visibleText, text: parsed.text },
      envelopeFrom: row.envelope_from, envelopeTo: row.envelope_to, via: row.via, match, ticket, privateNotes,
      senderVerified,
    },
    ctx.directory,
    ctx.settings,
  );
  return { match, ticket, decision, auth };
}
