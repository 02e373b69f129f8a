import type { TicketStatus } from '../shared/domain.js';
import type { Action, EmailAction, Trigger } from './definitions.js';
import { conditionsHold, type TicketView, type UpdateEvent } from './conditions.js';

export type FieldAction = Exclude<Action, EmailAction>;

export interface PlannedChange {
  trigger: string;
  action: FieldAction;
  /** Why the action changed nothing, when it did not (R35 refusals, already so). */
  skipped?: string;
}

export interface PlannedEmail {
  trigger: string;
  action: EmailAction;
}

export interface TriggerPlan {
  fired: string[];
  changes: PlannedChange[];
  emails: PlannedEmail[];
  /** The ticket and update after every trigger's changes: emails are rendered from these. */
  ticket: TicketView;
  event: UpdateEvent;
}

export interface StaffLookup {
  isAgent(email: string): boolean;
  /** Agents and light agents (R30's followers). */
  isStaff(email: string): boolean;
  nameOf(email: string): string | null;
}

/** Applies one field action to the view; returns the new view or a reason it did nothing. */
export function applyFieldAction(a: FieldAction, t: TicketView, u: UpdateEvent, staff: StaffLookup, nowIso: string): { ticket: TicketView; event: UpdateEvent } | string {
  const who = (v: string) => (v === 'current_user' ? u.currentUser?.email ?? '' : v.toLowerCase());
  if ('set_status' in a) {
    const to = a.set_status as TicketStatus;
    if (t.status === to) return 'already so';
    if (t.status === 'closed') return 'a closed ticket never changes (R14)';
    if (to === 'closed' && t.status !== 'solved') return 'only a solved ticket can be closed (R35)';
    if (to === 'solved' && !t.assignee) return 'solving needs an assignee (R35)';
    return {
      ticket: { ...t, status: to, statusChangedAt: nowIso, solvedAt: to === 'solved' ? nowIso : t.solvedAt },
      event: { ...u, statusChanged: true, statusFrom: u.statusChanged ? u.statusFrom : t.status },
    };
  }
  if ('set_assignee' in a) {
    const email = who(a.set_assignee);
    if (!staff.isAgent(email)) return `${email || 'current user'} is not an agent`;
    if (t.assignee?.email === email) return 'already so';
    const status = t.status === 'new' ? 'open' : t.status; // R35: assigning a new ticket opens it
    return {
      ticket: { ...t, assignee: { email, name: staff.nameOf(email) }, assignedAt: nowIso, status, statusChangedAt: status !== t.status ? nowIso : t.statusChangedAt },
      event: { ...u, assigneeChanged: true, ...(status !== t.status ? { statusChanged: true, statusFrom: u.statusChanged ? u.statusFrom : t.status } : {}) },
    };
  }
  if ('set_group' in a) {
    if (t.group === a.set_group) return 'already so';
    return { ticket: { ...t, group: a.set_group }, event: { ...u, groupChanged: true } };
  }
  if ('add_tags' in a) {
    const tags = [...new Set([...t.tags, ...a.add_tags.map((x) => x.toLowerCase())])];
    return tags.length === t.tags.length ? 'already so' : { ticket: { ...t, tags }, event: u };
  }
  if ('remove_tags' in a) {
    const drop = new Set(a.remove_tags.map((x) => x.toLowerCase()));
    const tags = t.tags.filter((x) => !drop.has(x));
    return tags.length === t.tags.length ? 'already so' : { ticket: { ...t, tags }, event: u };
  }
  const email = who(a.add_follower);
  if (!staff.isStaff(email)) return `${email || 'current user'} cannot follow: agents and light agents only (R30)`;
  if (t.followers.some((f) => f.email === email)) return 'already so';
  return { ticket: { ...t, followers: [...t.followers, { email, name: staff.nameOf(email) }] }, event: u };
}

/**
 * R47: triggers in order, each at most once per update; a trigger whose actions change the
 * ticket makes the cycle run again so the remaining triggers see the change, until a pass in
 * which none fires. Pure: returns the plan; the caller applies and sends.
 */
export function runTriggers(triggers: readonly Trigger[], ticket: TicketView, event: UpdateEvent, staff: StaffLookup, now: Date): TriggerPlan {
  const fired: string[] = [];
  const changes: PlannedChange[] = [];
  const emails: PlannedEmail[] = [];
  let t = ticket;
  let u = event;
  const nowIso = now.toISOString();
  for (let pass = 0; pass <= triggers.length; pass++) {
    let firedThisPass = false;
    for (const trig of triggers) {
      if (!trig.active || fired.includes(trig.id)) continue;
      if (!conditionsHold(trig.conditions, t, u, now)) continue;
      fired.push(trig.id);
      firedThisPass = true;
      for (const action of trig.actions) {
        if ('email_user' in action) {
          emails.push({ trigger: trig.id, action });
          continue;
        }
        const r = applyFieldAction(action, t, u, staff, nowIso);
        if (typeof r === 'string') changes.push({ trigger: trig.id, action, skipped: r });
        else {
          changes.push({ trigger: trig.id, action });
          t = r.ticket;
          u = r.event;
        }
      }
    }
    if (!firedThisPass) break;
  }
  return { fired, changes, emails, ticket: t, event: u };
}
