import type { Bounce } from '../parse/bounce.js';
import type { SuppressionState } from '../shared/domain.js';

/**
 * R67/R68 as pure decisions: whether a message is a bounce of deskgate's own mail, and what a
 * matched bounce does to its outbox row, its ticket and the suppression list. The pipeline
 * (pipeline/bounce.ts) reads the store and carries the plan out.
 */

export interface BounceFacts {
  bounce: Bounce | null;
  /** The outbox id of a correctly signed VERP recipient (R67), else null. */
  verpOutboxId: number | null;
  /** R42: why the message is automated, or null for a person. */
  automated: string | null;
  /** Checks skipped on release (R41): a released unmatched_bounce is processed as mail. */
  skip: readonly string[];
}

/**
 * R67: the message is a bounce to handle as one (never a ticket or comment). A text bounce
 * counts only from a robot: a person who forwards one to support is asking about it.
 */
export function isBounceMessage(f: BounceFacts): boolean {
  if (f.skip.includes('unmatched_bounce')) return false;
  if (f.verpOutboxId !== null) return true;
  if (!f.bounce) return false;
  return f.bounce.standard || f.automated !== null;
}

/** The bounced notification as the plan needs it. */
export interface BouncedNotification {
  id: number;
  ticketId: number;
  /** Its recipients (To and Cc), lower-case. */
  recipients: readonly string[];
}

export type BounceKind = 'hard' | 'soft' | 'delayed';

export interface BounceEffect {
  /** As the report names the recipient. */
  reported: string;
  /** The notification's recipient it is about, or null when it cannot be told (R68 then suppresses no one). */
  address: string | null;
  kind: BounceKind;
  status: string;
  diagnostic: string | null;
  /** R68: this bounce put the address on the suppression list. */
  suppressed: boolean;
}

export interface BouncePlan {
  /** R67: the outbox row's new last_error when it becomes `bounced`; null when only delayed. */
  outboxError: string | null;
  /** R67: the ticket's warning notification_bounced. */
  warn: boolean;
  /** Audit entries on the ticket. */
  notes: Array<{ change: string; rule: string; value: string }>;
  /** R68: new suppression states to store. */
  states: SuppressionState[];
  effects: BounceEffect[];
}

const kindOf = (action: string, status: string): BounceKind => (action === 'delayed' ? 'delayed' : status.startsWith('5') ? 'hard' : 'soft');

const blank = (address: string): SuppressionState => ({ address, suppressed: false, reason: null, code: null, diagnostic: null, bounces: 0, softInRow: 0, since: null });

/** R68: the address's state after one bounce. A delay is not a bounce: nothing changes. */
export function afterBounce(prev: SuppressionState, kind: BounceKind, status: string, diagnostic: string | null, softLimit: number, now: string): SuppressionState {
  if (kind === 'delayed') return prev;
  const next: SuppressionState = { ...prev, code: status, diagnostic, bounces: prev.bounces + 1, softInRow: kind === 'hard' ? 0 : prev.softInRow + 1 };
  if (prev.suppressed) return next; // stays suppressed, for its first reason and since
  if (kind === 'hard') return { ...next, suppressed: true, reason: 'hard_bounce', since: now };
  if (next.softInRow >= softLimit) return { ...next, suppressed: true, reason: 'soft_bounce_limit', since: now };
  return next;
}

/** R67/R68: what one matched bounce does. `states` holds the stored state of the recipients that have one. */
export function planBounce(bounce: Bounce, n: BouncedNotification, states: ReadonlyMap<string, SuppressionState>, softLimit: number, now: string): BouncePlan {
  const plan: BouncePlan = { outboxError: null, warn: false, notes: [], states: [], effects: [] };
  const current = new Map(states);
  const failed: string[] = [];
  const seen = new Set<string>();
  for (const r of bounce.recipients) {
    if (seen.has(r.address)) continue;
    seen.add(r.address);
    // A forwarded address bounces under its new name: with one recipient, it is that one.
    const address = n.recipients.includes(r.address) ? r.address : n.recipients.length === 1 ? n.recipients[0]! : null;
    const kind = kindOf(r.action, r.status);
    const what = `${r.address}${address && address !== r.address ? ` (sent to ${address})` : ''}: ${r.status}${r.diagnostic ? ` ${r.diagnostic}` : ''}`;
    let suppressed = false;
    if (kind === 'delayed') {
      plan.notes.push({ change: 'notification_delayed', rule: 'R67', value: `outbox ${n.id}, ${what}` });
    } else {
      failed.push(what);
      plan.notes.push({ change: 'notification_bounced', rule: 'R67', value: `outbox ${n.id}, ${what}` });
      if (address) {
        const prev = current.get(address) ?? blank(address);
        const next = afterBounce(prev, kind, r.status, r.diagnostic, softLimit, now);
        current.set(address, next);
        plan.states.push(next);
        suppressed = next.suppressed && !prev.suppressed;
        if (suppressed) plan.notes.push({ change: 'address_suppressed', rule: 'R68', value: `${address}: ${next.reason} ${r.status}` });
      } else {
        plan.notes.push({ change: 'bounce_not_attributed', rule: 'R68', value: `${r.address} is none of the notification's recipients; no address suppressed` });
      }
    }
    plan.effects.push({ reported: r.address, address, kind, status: r.status, diagnostic: r.diagnostic, suppressed });
  }
  if (bounce.recipients.length === 0) {
    // A report that names no recipient still says the message came back.
    failed.push('the report names no recipient or status');
    plan.notes.push({ change: 'notification_bounced', rule: 'R67', value: `outbox ${n.id}: the report names no recipient or status; no address suppressed` });
  }
  if (failed.length > 0) {
    plan.outboxError = failed.join('; ');
    plan.warn = true;
  }
  // One stored state per address, the last.
  plan.states = [...new Map(plan.states.map((s) => [s.address, s])).values()];
  return plan;
}
