import type { TicketStatus } from '../shared/domain.js';

/** What threading knows about a message: ids it refers to and tokens it carries. */
export interface ThreadInput {
  inReplyTo: readonly string[];
  references: readonly string[];
  /** Ticket ids from correctly signed tokens in recipient plus-addresses (already verified). */
  addressTokenTickets: readonly number[];
  /** Ticket ids from correctly signed [DG-…] tokens in the body (already verified). */
  bodyTokenTickets: readonly number[];
}

/** What the store knows: which ticket owns each referenced Message-ID, and ticket statuses. */
export interface ThreadLookup {
  ticketByMessageId: ReadonlyMap<string, number>;
  statusOf: (ticketId: number) => TicketStatus | undefined;
}

export type ThreadMatch =
  | { kind: 'new'; rule: 'R12' }
  | { kind: 'reply'; ticketId: number; rule: 'R10' | 'R11'; by: string }
  | { kind: 'follow_up'; closedTicketId: number; rule: 'R14'; matchedBy: 'R10' | 'R11' };

/**
 * R10–R14: reply headers first (In-Reply-To, then References newest first), then a signed
 * reply token (address, then body); otherwise a new ticket. A match on a closed ticket makes a
 * follow-up (R14). Subjects never thread.
 */
export function matchThread(input: ThreadInput, lookup: ThreadLookup): ThreadMatch {
  const byHeader = [...input.inReplyTo, ...[...input.references].reverse()];
  for (const mid of byHeader) {
    const ticketId = lookup.ticketByMessageId.get(mid);
    if (ticketId !== undefined && lookup.statusOf(ticketId) !== undefined) return resolve(ticketId, 'R10', mid, lookup);
  }
  for (const ticketId of [...input.addressTokenTickets, ...input.bodyTokenTickets]) {
    if (lookup.statusOf(ticketId) !== undefined) return resolve(ticketId, 'R11', `token for ticket ${ticketId}`, lookup);
  }
  return { kind: 'new', rule: 'R12' };
}

function resolve(ticketId: number, rule: 'R10' | 'R11', by: string, lookup: ThreadLookup): ThreadMatch {
  if (lookup.statusOf(ticketId) === 'closed') return { kind: 'follow_up', closedTicketId: ticketId, rule: 'R14', matchedBy: rule };
  return { kind: 'reply', ticketId, rule, by };
}
