import { isValidTag, type Person, type Role, type TicketStatus } from '../shared/domain.js';
import { isPlausibleAddress, normalizeAddress } from '../shared/addresses.js';

/**
 * The one planner of ticket changes. Email (rules), triggers, automations, the CLI and the API
 * all say what they want as ChangeRequests; this decides, from the ticket as it stands and who
 * asks, which changes happen (with their rule) and which are refused and why (R3, R14, R25,
 * R30, R35). Pure: plain data in, plain data out. src/changes/apply.ts writes the result.
 */
export type ChangeRequest = { rule?: string } & (
  /** onlyFrom: applies only when the ticket is in one of these statuses (R13, R36), else nothing. */
  | { kind: 'status'; to: TicketStatus; onlyFrom?: readonly TicketStatus[] }
  | { kind: 'assignee'; email: string }
  | { kind: 'group'; name: string }
  | { kind: 'requester'; email: string; name?: string | null }
  | { kind: 'add_tags'; tags: readonly string[] }
  | { kind: 'remove_tags'; tags: readonly string[] }
  /** history: the CC is owed the public history in their first notification (R28). */
  | { kind: 'add_cc'; email: string; name?: string | null; history?: boolean }
  | { kind: 'remove_cc'; email: string }
  | { kind: 'add_follower'; email: string; name?: string | null }
  | { kind: 'remove_follower'; email: string }
  | { kind: 'add_warning'; warning: string }
);

/** One change to carry out, named as the audit log names it. */
export type Change = { rule: string | null } & (
  | { change: 'status_changed'; from: TicketStatus; to: TicketStatus }
  | { change: 'assignee_changed'; person: Person }
  | { change: 'group_changed'; group: string }
  | { change: 'requester_changed'; person: Person }
  | { change: 'tags_added'; tags: string[] }
  | { change: 'tags_removed'; tags: string[] }
  | { change: 'cc_added'; person: Person; history: boolean }
  | { change: 'cc_removed'; email: string }
  | { change: 'follower_added'; person: Person }
  | { change: 'follower_removed'; email: string }
  | { change: 'warning_added'; warning: string }
);

export interface Refusal {
  request: ChangeRequest;
  reason: string;
  rule: string | null;
  /** Nothing to do: the ticket is already so. Not an error for anyone. */
  alreadySo: boolean;
}

/** The ticket fields the planner reads and moves forward (TicketState and TicketView both fit). */
export interface PlanTicket {
  status: TicketStatus;
  requester: Person;
  assignee: Person | null;
  group: string | null;
  tags: string[];
  ccs: Person[];
  followers: Person[];
  warnings?: string[];
  statusChangedAt: string;
  solvedAt: string | null;
  assignedAt: string | null;
}

/** Who asks: a person with a role, or the system (a trigger, an automation, an admin's CLI without --author). */
export interface Actor {
  email: string | null;
  role: Role | null;
}

export interface PlanPolicy {
  roleOf(email: string): Role;
  nameOf(email: string): string | null;
  isSupportAddress(email: string): boolean;
  groups: readonly string[];
  ccs: { max: number; blocklist: readonly string[] };
}

export interface ChangePlan<T extends PlanTicket> {
  changes: Change[];
  refused: Refusal[];
  /** The ticket after the changes. */
  ticket: T;
  /** The update's view of what moved (R46), for the trigger engine. */
  statusFrom: TicketStatus | null;
  statusChanged: boolean;
  assigneeChanged: boolean;
  groupChanged: boolean;
}

const isFullAgentRole = (r: Role | null) => r === 'agent' || r === 'admin';

/** R25: exact addresses and *@domain patterns, compared lower-case. */
export function isBlocklisted(address: string, blocklist: readonly string[]): boolean {
  const domain = address.slice(address.lastIndexOf('@') + 1);
  return blocklist.some((p) => p === address || (p.startsWith('*@') && p.slice(2) === domain));
}

export type StatusVerdict =
  | { ok: true; assignActor: boolean }
  | { ok: false; reason: string; rule: string; alreadySo?: boolean };

/**
 * R35 (and R14), the only place they are written: nothing goes back to new; closed only from
 * solved, and only by an admin or the system (automation, admin CLI); closed is final; solving
 * needs an assignee, and an unassigned ticket solved by an agent is assigned to that agent.
 */
export function statusVerdict(t: Pick<PlanTicket, 'status' | 'assignee'>, to: TicketStatus, actor: Actor): StatusVerdict {
  if (t.status === 'closed') return { ok: false, reason: 'a closed ticket never changes (reply to it to make a follow-up)', rule: 'R14' };
  // Asking for `new` is always refused, even of a new ticket: no one sets it (R35).
  if (to === 'new') return { ok: false, reason: 'a ticket never goes back to new', rule: 'R35' };
  if (t.status === to) return { ok: false, reason: 'already so', rule: 'R35', alreadySo: true };
  if (to === 'closed' && t.status !== 'solved') return { ok: false, reason: `only a solved ticket can be closed (it is ${t.status})`, rule: 'R35' };
  if (to === 'closed' && actor.role !== null && actor.role !== 'admin') return { ok: false, reason: 'only an admin or an automation closes a ticket', rule: 'R35' };
  if (to === 'solved' && !t.assignee) {
    if (isFullAgentRole(actor.role)) return { ok: true, assignActor: true };
    return { ok: false, reason: 'solving needs an assignee', rule: 'R35' };
  }
  return { ok: true, assignActor: false };
}

type Step<T> = { ticket: T; changes: Change[] } | { refuse: string; rule: string | null; alreadySo?: boolean };

const refuse = (reason: string, rule: string | null = null) => ({ refuse: reason, rule });
const already = { refuse: 'already so', rule: null, alreadySo: true } as const;

function person(email: string, name: string | null | undefined, policy: PlanPolicy): Person {
  return { email, name: policy.nameOf(email) ?? (name || null) };
}

function planStatus<T extends PlanTicket>(t: T, to: TicketStatus, rule: string, actor: Actor, policy: PlanPolicy, now: string): Step<T> {
  const v = statusVerdict(t, to, actor);
  if (!v.ok) return v.alreadySo ? already : refuse(v.reason, v.rule);
  if (v.assignActor && !actor.email) return refuse('solving needs an assignee', 'R35');
  const changes: Change[] = [];
  let next = t;
  if (v.assignActor) {
    next = { ...next, assignee: person(actor.email!, null, policy), assignedAt: now };
    changes.push({ change: 'assignee_changed', person: next.assignee!, rule: 'R35' });
  }
  next = { ...next, status: to, statusChangedAt: now, solvedAt: to === 'solved' ? now : next.solvedAt };
  changes.push({ change: 'status_changed', from: t.status, to, rule });
  return { ticket: next, changes };
}

function planPerson<T extends PlanTicket>(t: T, r: ChangeRequest, policy: PlanPolicy, now: string): Step<T> {
  if (!('email' in r)) return refuse('not a person change');
  const email = normalizeAddress(r.email);
  if (!isPlausibleAddress(email)) return refuse(`"${r.email}" is not an email address`);
  const name = 'name' in r ? r.name : null;
  const has = (list: Person[]) => list.some((p) => p.email === email);
  switch (r.kind) {
    case 'assignee':
      if (!isFullAgentRole(policy.roleOf(email))) return refuse(`${email} is not an agent or admin`, 'R3');
      if (t.assignee?.email === email) return already;
      return { ticket: { ...t, assignee: person(email, null, policy), assignedAt: now }, changes: [{ change: 'assignee_changed', person: person(email, null, policy), rule: r.rule ?? 'R3' }] };
    case 'requester':
      if (policy.isSupportAddress(email)) return refuse(`${email} is a support address`, 'R1');
      if (t.requester.email === email) return already;
      return { ticket: { ...t, requester: person(email, name, policy) }, changes: [{ change: 'requester_changed', person: person(email, name, policy), rule: r.rule ?? null }] };
    case 'add_cc':
      if (policy.isSupportAddress(email)) return refuse(`${email} is a support address`, 'R1');
      if (isBlocklisted(email, policy.ccs.blocklist)) return refuse(`${email} is blocklisted`, 'R25');
      if (t.requester.email === email) return refuse(`${email} is the requester`, 'R25');
      if (has(t.ccs)) return already;
      if (has(t.followers)) return refuse(`${email} is a follower (followers stay followers)`, 'R25');
      if (t.ccs.length >= policy.ccs.max) return refuse(`${email}: the ticket already has ${policy.ccs.max} CCs`, 'R25');
      return { ticket: { ...t, ccs: [...t.ccs, person(email, name, policy)] }, changes: [{ change: 'cc_added', person: person(email, name, policy), history: r.history ?? false, rule: r.rule ?? null }] };
    case 'remove_cc':
      if (!has(t.ccs)) return already;
      return { ticket: { ...t, ccs: t.ccs.filter((p) => p.email !== email) }, changes: [{ change: 'cc_removed', email, rule: r.rule ?? null }] };
    case 'add_follower':
      if (policy.roleOf(email) === 'end_user') return refuse(`${email}: only agents and light agents can follow`, 'R30');
      if (isBlocklisted(email, policy.ccs.blocklist)) return refuse(`${email} is blocklisted`, 'R25');
      if (has(t.followers)) return already;
      return { ticket: { ...t, followers: [...t.followers, person(email, name, policy)] }, changes: [{ change: 'follower_added', person: person(email, name, policy), rule: r.rule ?? 'R30' }] };
    case 'remove_follower':
      if (!has(t.followers)) return already;
      return { ticket: { ...t, followers: t.followers.filter((p) => p.email !== email) }, changes: [{ change: 'follower_removed', email, rule: r.rule ?? 'R30' }] };
    default:
      return refuse('not a person change');
  }
}

function planOne<T extends PlanTicket>(t: T, r: ChangeRequest, actor: Actor, policy: PlanPolicy, now: string): Step<T> {
  if (t.status === 'closed') return refuse('a closed ticket never changes', 'R14');
  switch (r.kind) {
    case 'status':
      if (r.onlyFrom && !r.onlyFrom.includes(t.status)) return already;
      return planStatus(t, r.to, r.rule ?? 'R35', actor, policy, now);
    case 'group':
      if (!policy.groups.includes(r.name)) return refuse(`"${r.name}" is not a configured group`);
      if (t.group === r.name) return already;
      return { ticket: { ...t, group: r.name }, changes: [{ change: 'group_changed', group: r.name, rule: r.rule ?? null }] };
    case 'add_tags': {
      const tags = r.tags.map((x) => x.toLowerCase());
      const bad = tags.find((x) => !isValidTag(x));
      if (bad !== undefined) return refuse(`tag "${bad}": tags are single words (letters, digits, _ . : -)`);
      const added = [...new Set(tags)].filter((x) => !t.tags.includes(x));
      if (added.length === 0) return already;
      return { ticket: { ...t, tags: [...t.tags, ...added] }, changes: [{ change: 'tags_added', tags: added, rule: r.rule ?? null }] };
    }
    case 'remove_tags': {
      const drop = new Set(r.tags.map((x) => x.toLowerCase()));
      const removed = t.tags.filter((x) => drop.has(x));
      if (removed.length === 0) return already;
      return { ticket: { ...t, tags: t.tags.filter((x) => !drop.has(x)) }, changes: [{ change: 'tags_removed', tags: removed, rule: r.rule ?? null }] };
    }
    case 'add_warning':
      if ((t.warnings ?? []).includes(r.warning)) return already;
      return { ticket: { ...t, warnings: [...(t.warnings ?? []), r.warning] }, changes: [{ change: 'warning_added', warning: r.warning, rule: r.rule ?? null }] };
    default:
      return planPerson(t, r, policy, now);
  }
}

/**
 * Plans requests in order, each against the ticket as the earlier ones left it. Afterwards,
 * R35: a ticket still `new` that now has an assignee is open.
 */
export function planChanges<T extends PlanTicket>(ticket: T, requests: readonly ChangeRequest[], actor: Actor, policy: PlanPolicy, now: string): ChangePlan<T> {
  const changes: Change[] = [];
  const refused: Refusal[] = [];
  let t = ticket;
  for (const r of requests) {
    const step = planOne(t, r, actor, policy, now);
    if ('refuse' in step) refused.push({ request: r, reason: step.refuse, rule: step.rule, alreadySo: step.alreadySo ?? false });
    else {
      t = step.ticket;
      changes.push(...step.changes);
    }
  }
  if (t.status === 'new' && t.assignee && t.assignee.email !== ticket.assignee?.email) {
    t = { ...t, status: 'open', statusChangedAt: now };
    changes.push({ change: 'status_changed', from: 'new', to: 'open', rule: 'R35' });
  }
  const statusChanged = t.status !== ticket.status;
  return {
    changes, refused, ticket: t,
    statusFrom: statusChanged ? ticket.status : null,
    statusChanged,
    assigneeChanged: (t.assignee?.email ?? null) !== (ticket.assignee?.email ?? null),
    groupChanged: t.group !== ticket.group,
  };
}

/** The refusals that are real errors (not "already so"), as one message; for strict callers. */
export function refusalMessage(refused: readonly Refusal[]): string | null {
  const real = refused.filter((r) => !r.alreadySo);
  if (real.length === 0) return null;
  return real.map((r) => (r.rule ? `${r.reason} (${r.rule})` : r.reason)).join('; ');
}
