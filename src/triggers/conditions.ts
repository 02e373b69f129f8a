import type { Role, TicketStatus } from '../shared/domain.js';
import type { Condition } from './definitions.js';

/** The ticket as conditions see it (after the update and any earlier trigger's changes). */
export interface TicketView {
  id: number;
  subject: string;
  status: TicketStatus;
  requester: { email: string; name: string | null };
  assignee: { email: string; name: string | null } | null;
  group: string | null;
  tags: string[];
  via: string;
  recipient: string;
  ccs: Array<{ email: string; name: string | null }>;
  followers: Array<{ email: string; name: string | null }>;
  createdAt: string;
  updatedAt: string;
  statusChangedAt: string;
  solvedAt: string | null;
  assignedAt: string | null;
}

/** One update (R46): what changed, who did it and how. */
export interface UpdateEvent {
  kind: 'created' | 'updated';
  channel: 'email' | 'cli' | 'trigger' | 'automation';
  /** The author ("current user"); null for automations. */
  currentUser: { email: string; name: string | null; role: Role } | null;
  comment: { id: number; public: boolean; body: string } | null;
  statusFrom: TicketStatus | null;
  statusChanged: boolean;
  assigneeChanged: boolean;
  groupChanged: boolean;
  /** Addresses already on the inbound message's From/To/Cc (R50). */
  inboundParticipants: string[];
  /** The inbound Message-ID that caused the update, if any (for threading and R58). */
  inboundMessageId: string | null;
}

const HOUR = 3_600_000;

function hoursSince(iso: string | null, now: Date): number | undefined {
  return iso ? (now.getTime() - Date.parse(iso)) / HOUR : undefined;
}

/** Whether one condition holds. Pure. */
export function conditionHolds(c: Condition, t: TicketView, u: UpdateEvent | null, now: Date): boolean {
  const v = typeof c.value === 'string' ? c.value.toLowerCase() : c.value;
  const eq = (actual: unknown) => (c.op === 'is_not' ? actual !== v : actual === v);
  const timed = (iso: string | null) => {
    const h = hoursSince(iso, now);
    if (h === undefined) return false;
    return c.op === 'gte' ? h >= (v as number) : h < (v as number);
  };
  const person = (p: { email: string } | null) => {
    // present / absent / current_user / requester / an address
    let actual: boolean;
    if (v === 'present') actual = p !== null;
    else if (v === 'absent') actual = p === null;
    else if (v === 'current_user') actual = p !== null && u?.currentUser?.email === p.email;
    else if (v === 'requester') actual = p !== null && p.email === t.requester.email;
    else actual = p?.email === v;
    return c.op === 'is_not' ? !actual : actual;
  };
  switch (c.field) {
    case 'status': return eq(t.status);
    case 'status_changed': return eq(Boolean(u?.statusChanged));
    case 'status_changed_from':
    case 'status_changed_to': {
      // "changed from solved" is false when the status did not change; "is_not" is its negation.
      const actual = Boolean(u?.statusChanged) && (c.field === 'status_changed_from' ? u?.statusFrom : t.status) === v;
      return c.op === 'is_not' ? !actual : actual;
    }
    case 'channel': return eq(u?.channel ?? null);
    case 'assignee': return person(t.assignee);
    case 'assignee_changed': return eq(Boolean(u?.assigneeChanged));
    case 'group': return v === 'present' || v === 'absent' ? (c.op === 'is_not') !== ((t.group !== null) === (v === 'present')) : eq(t.group?.toLowerCase() ?? null);
    case 'group_changed': return eq(Boolean(u?.groupChanged));
    case 'tags': {
      const has = t.tags.includes(String(v));
      return c.op === 'not_includes' || c.op === 'is_not' ? !has : has;
    }
    case 'via': return eq(t.via);
    case 'recipient': return eq(t.recipient);
    case 'subject_contains': {
      const has = t.subject.toLowerCase().includes(String(v));
      return c.op === 'is_not' || c.op === 'not_includes' ? !has : has;
    }
    case 'is': return u !== null && eq(u.kind);
    case 'comment': {
      const cm = u?.comment ?? null;
      const actual = v === 'present' ? cm !== null : v === 'absent' ? cm === null : v === 'public' ? cm?.public === true : v === 'private' ? cm?.public === false : false;
      return c.op === 'is_not' ? !actual : actual;
    }
    case 'current_user': {
      const cu = u?.currentUser ?? null;
      const actual = v === 'end_user' ? cu?.role === 'end_user'
        : v === 'agent' ? cu !== null && cu.role !== 'end_user'
        : v === 'requester' ? cu?.email === t.requester.email
        : v === 'assignee' ? cu !== null && cu.email === t.assignee?.email
        : cu?.email === v;
      return c.op === 'is_not' ? !actual : actual;
    }
    case 'requester_email': return eq(t.requester.email);
    case 'requester_domain': return eq(t.requester.email.slice(t.requester.email.lastIndexOf('@') + 1));
    case 'hours_since_created': return timed(t.createdAt);
    case 'hours_since_updated': return timed(t.updatedAt);
    case 'hours_since_status_changed': return timed(t.statusChangedAt);
    case 'hours_since_solved': return timed(t.solvedAt);
    case 'hours_since_assigned': return timed(t.assignedAt);
  }
}

/** `all` must all hold and, when `any` is given, at least one of `any`. */
export function conditionsHold(conds: { all: readonly Condition[]; any: readonly Condition[] }, t: TicketView, u: UpdateEvent | null, now: Date): boolean {
  return conds.all.every((c) => conditionHolds(c, t, u, now)) && (conds.any.length === 0 || conds.any.some((c) => conditionHolds(c, t, u, now)));
}
