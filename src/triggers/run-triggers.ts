import type { TicketStatus } from '../shared/domain.js';
import type { Action, EmailAction, Trigger } from './definitions.js';
import { conditionsHold, type TicketView, type UpdateEvent } from './conditions.js';
import { planChanges, type Actor, type Change, type ChangeRequest, type PlanPolicy } from '../changes/plan.js';

export type FieldAction = Exclude<Action, EmailAction>;

export interface PlannedChange {
  trigger: string;
  action: FieldAction;
  /** Why the action changed nothing, when it did not (R35 refusals, already so). */
  skipped?: string;
  /** What the change planner made of the action: the changes the executor writes. */
  changes: Change[];
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

/** Roles, names, groups and the blocklist, as the change planner reads them. */
export type StaffLookup = PlanPolicy;

/** Triggers and automations act as the system: R35 lets them close, never solve unassigned. */
const SYSTEM: Actor = { email: null, role: null };

function requestOf(a: FieldAction, u: UpdateEvent): ChangeRequest {
  const who = (v: string) => (v === 'current_user' ? u.currentUser?.email ?? '' : v.toLowerCase());
  if ('set_status' in a) return { kind: 'status', to: a.set_status as TicketStatus, rule: 'R49' };
  if ('set_assignee' in a) return { kind: 'assignee', email: who(a.set_assignee), rule: 'R49' };
  if ('set_group' in a) return { kind: 'group', name: a.set_group, rule: 'R49' };
  if ('add_tags' in a) return { kind: 'add_tags', tags: a.add_tags, rule: 'R49' };
  if ('remove_tags' in a) return { kind: 'remove_tags', tags: a.remove_tags, rule: 'R49' };
  return { kind: 'add_follower', email: who(a.add_follower), rule: 'R30' };
}

/**
 * Plans one field action with the change planner against the view; returns the new view and
 * update, or the reason it did nothing ("already so" when there was nothing to do).
 */
export function applyFieldAction(a: FieldAction, t: TicketView, u: UpdateEvent, policy: StaffLookup, nowIso: string): { ticket: TicketView; event: UpdateEvent; changes: Change[] } | string {
  const plan = planChanges(t, [requestOf(a, u)], SYSTEM, policy, nowIso);
  const r = plan.refused[0];
  if (r) return r.alreadySo ? 'already so' : r.rule ? `${r.reason} (${r.rule})` : r.reason;
  return {
    ticket: plan.ticket,
    changes: plan.changes,
    event: {
      ...u,
      statusChanged: u.statusChanged || plan.statusChanged,
      statusFrom: u.statusChanged ? u.statusFrom : plan.statusFrom,
      assigneeChanged: u.assigneeChanged || plan.assigneeChanged,
      groupChanged: u.groupChanged || plan.groupChanged,
    },
  };
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
        if (typeof r === 'string') changes.push({ trigger: trig.id, action, skipped: r, changes: [] });
        else {
          changes.push({ trigger: trig.id, action, changes: r.changes });
          t = r.ticket;
          u = r.event;
        }
      }
    }
    if (!firedThisPass) break;
  }
  return { fired, changes, emails, ticket: t, event: u };
}
