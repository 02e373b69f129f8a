import type { Role, TicketState, TicketStatus } from '../shared/domain.js';

export type StatusCheck =
  | { ok: true; assignActor: boolean; rule: string }
  | { ok: false; reason: string; rule: string };

/**
 * R35 for an explicit status change by staff (CLI/API). A closed ticket never changes (R14);
 * nothing goes back to new; closed only from solved; solving needs an assignee, and an
 * unassigned ticket solved by an agent is assigned to that agent.
 */
export function checkStatusChange(ticket: Pick<TicketState, 'status' | 'assignee'>, to: TicketStatus, actorRole: Role | null): StatusCheck {
  if (ticket.status === 'closed') return { ok: false, reason: 'a closed ticket never changes (reply to it to make a follow-up)', rule: 'R14' };
  if (to === 'new') return { ok: false, reason: 'a ticket never goes back to new', rule: 'R35' };
  if (to === 'closed' && ticket.status !== 'solved') return { ok: false, reason: `only a solved ticket can be closed (it is ${ticket.status})`, rule: 'R35' };
  if (to === 'solved' && !ticket.assignee) {
    if (actorRole === 'agent' || actorRole === 'admin') return { ok: true, assignActor: true, rule: 'R35' };
    return { ok: false, reason: 'solving needs an assignee: give --assignee or an agent --author', rule: 'R35' };
  }
  return { ok: true, assignActor: false, rule: 'R35' };
}

/** R25: exact addresses and *@domain patterns, compared lower-case. */
export function isBlocklisted(address: string, blocklist: readonly string[]): boolean {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  return blocklist.some((p) => p === address || (p.startsWith('*@') && p.slice(2) === domain));
}
