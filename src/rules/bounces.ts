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

const blank = (address: string): SuppressionState => ({ address, suppressed: false, reason: null, code: null, diagnostic: null, bounces: 0, softInRow: 0, since: null, lastBounce: null });

/** R68: soft bounces further apart than this are not "in a row": a mailbox full once a season is no dead address. */
export const SOFT_ROW_GAP_MS = 30 * 86_400_000;

/** R68: the address's state after one bounce. A delay is not a bounce: nothing changes. */
export function afterBounce(prev: SuppressionState, kind: BounceKind, status: string, diagnostic: string | null, softLimit: number, now: string): SuppressionState {
  if (kind === 'delayed') return prev;
  const row = prev.lastBounce !== null && Date.parse(now) - Date.parse(prev.lastBounce) > SOFT_ROW_GAP_MS ? 0 : prev.softInRow;
  const next: SuppressionState = { ...prev, code: status, diagnostic, bounces: prev.bounces + 1, softInRow: kind === 'hard' ? 0 : row + 1, lastBounce: now };
  if (prev.suppressed) return next; // stays suppressed, for its first reason and since
  if (kind === 'hard') return { ...next, suppressed: true, reason: 'hard_bounce', since: now };
  if (next.softInRow >= softLimit) return { ...next, suppressed: true, reason: 'soft_bounce_limit', since: now };
  return next;
}

/**
 * Who a bounce may speak for (R68). `only`: the recipient its signed return path was made for
 * (VERP): whatever the report names, it is about that copy (null: none of the recipients, so
 * no one). `suppress: false`: matched only by Message-ID while a return path is configured, so
 * possibly forged: recorded, suppressing no one. Neither: the recipients the report names.
 */
export interface BounceTrust { only?: string | null; suppress?: boolean }

/** The notification's recipient a reported address is about, or null. */
function attribute(reported: string, n: BouncedNotification, trust: BounceTrust): string | null {
  if (trust.only !== undefined) return trust.only;
  // A forwarded address bounces under its new name: with one recipient, it is that one.
  return n.recipients.includes(reported) ? reported : n.recipients.length === 1 ? n.recipients[0]! : null;
}

/** R67/R68: what one matched bounce does. `states` holds the stored state of the recipients that have one. */
export function planBounce(bounce: Bounce, n: BouncedNotification, states: ReadonlyMap<string, SuppressionState>, softLimit: number, now: string, trust: BounceTrust = {}): BouncePlan {
  const plan: BouncePlan = { outboxError: null, warn: false, notes: [], states: [], effects: [] };
  const current = new Map(states);
  const failed: string[] = [];
  const seen = new Set<string>();
  for (const r of bounce.recipients) {
    const address = attribute(r.address, n, trust);
    if (seen.has(address ?? r.address)) continue;
    seen.add(address ?? r.address);
    const kind = kindOf(r.action, r.status);
    const what = `${r.address}${address && address !== r.address ? ` (sent to ${address})` : ''}: ${r.status}${r.diagnostic ? ` ${r.diagnostic}` : ''}`;
    let suppressed = false;
    if (kind === 'delayed') {
      plan.notes.push({ change: 'notification_delayed', rule: 'R67', value: `outbox ${n.id}, ${what}` });
    } else {
      failed.push(what);
      plan.notes.push({ change: 'notification_bounced', rule: 'R67', value: `outbox ${n.id}, ${what}` });
      if (address && trust.suppress === false) {
        plan.notes.push({ change: 'bounce_not_trusted', rule: 'R68', value: `${address}: a report to a support address, not to the return path; no address suppressed` });
      } else if (address) {
        const prev = current.get(address) ?? blank(address);
        const next = afterBounce(prev, kind, r.status, r.diagnostic, softLimit, now);
        current.set(address, next);
        plan.states.push(next);
        suppressed = next.suppressed && !prev.suppressed;
        if (suppressed) plan.notes.push({ change: 'address_suppressed', rule: 'R68', value: `${address}: ${next.reason} ${r.status}` });
      } else {
        plan.notes.push({ change: 'bounce_not_attributed', rule: 'R68', value: `${r.address}: not one of the notification's recipients; no address suppressed` });
      }
    }
    plan.effects.push({ reported: r.address, address, kind, status: r.status, diagnostic: r.diagnostic, suppressed });
  }
  if (bounce.recipients.length === 0 && bounce.noFailure) {
    // Delivered, relayed or expanded (a success report): nothing bounced.
    plan.notes.push({ change: 'delivery_report', rule: 'R67', value: `outbox ${n.id}: a report that nothing failed` });
  } else if (bounce.recipients.length === 0) {
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
