import type { TicketView, UpdateEvent } from './conditions.js';

export interface Person { email: string; name: string | null }

/** One message to send: who is in To and Cc, and whether end users read it (R21). */
export interface Envelope {
  to: Person[];
  cc: Person[];
  audience: 'end_user' | 'staff';
}

export interface RecipientContext {
  ccsEnabled: boolean;
  agents: ReadonlyArray<{ email: string; name?: string | undefined; role: string; groups: readonly string[] }>;
  isSupportAddress(email: string): boolean;
  isStaff(email: string): boolean;
  /** R42: robots are never sent a notification. */
  isRobot(email: string): boolean;
}

/**
 * R49/R50/R29/R31: who an email_user action writes to. The author never gets their own update,
 * people already on the inbound mail do not get a copy of that comment, support addresses are
 * never written to (R1), private comments never go to the requester and CCs (R21), followers
 * get one message each (R31), and CCs ride on the requester's message in Cc (R29).
 */
export function resolveRecipients(kind: string, t: TicketView, u: UpdateEvent, ctx: RecipientContext, opts: { includeAuthor?: boolean } = {}): Envelope[] {
  const excluded = new Set<string>();
  if (u.currentUser && !opts.includeAuthor) excluded.add(u.currentUser.email);
  if (u.comment && u.channel === 'email') for (const p of u.inboundParticipants) excluded.add(p);
  const keep = (p: Person | null): p is Person => p !== null && !excluded.has(p.email) && !ctx.isSupportAddress(p.email) && !ctx.isRobot(p.email);
  const audienceOf = (p: Person) => (ctx.isStaff(p.email) ? 'staff' : 'end_user') as Envelope['audience'];
  const one = (p: Person | null): Envelope[] => (keep(p) ? [{ to: [p], cc: [], audience: audienceOf(p)}] : []);
  const each = (list: Person[]): Envelope[] => list.filter(keep).map((p) => ({ to: [p], cc: [], audience: 'staff'}));
  const agentsOf = (filter: (a: RecipientContext['agents'][number]) => boolean) =>
    ctx.agents.filter((a) => a.role !== 'light_agent' && filter(a)).map((a) => ({ email: a.email, name: a.name ?? null }));

  switch (kind) {
    case 'requester':
      if (u.comment && !u.comment.public && !ctx.isStaff(t.requester.email)) return [];
      return one(t.requester);
    case 'requester_and_ccs': {
      if (u.comment && !u.comment.public) return []; // R21
      const ccs = ctx.ccsEnabled ? t.ccs.filter(keep) : [];
      const requester = keep(t.requester) ? [t.requester] : [];
      const all = [...requester, ...ccs];
      if (all.length === 0) return [];
      const to = requester.length > 0 ? requester : [ccs[0]!];
      const cc = requester.length > 0 ? ccs : ccs.slice(1);
      return [{ to, cc, audience: 'end_user' }];
    }
    case 'assignee':
      return one(t.assignee);
    case 'group':
      return t.group ? each(agentsOf((a) => a.groups.includes(t.group!))) : [];
    case 'all_agents':
      return each(agentsOf(() => true));
    case 'followers':
      return each(t.followers);
    default:
      return one({ email: kind.toLowerCase(), name: null });
  }
}
