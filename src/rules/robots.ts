import type { TrustHeaders } from '../parse/index.js';

const ROBOT_LOCALS = /^(mailer-daemon|postmaster|no-?reply)$/i;

/** R42: addresses that are robots by name. */
export function isRobotAddress(address: string): boolean {
  return ROBOT_LOCALS.test(address.slice(0, address.lastIndexOf('@')));
}

/**
 * R42: why a message is an auto-reply or bulk mail, or null for a person. Exactly the list of
 * R42; `Auto-Submitted: no` is a person. Pure.
 */
export function automatedReason(h: TrustHeaders, sender: string | null, nullEnvelopeSender: boolean): string | null {
  const autoSubmitted = h.autoSubmitted?.split(';')[0]!.trim().toLowerCase();
  if (autoSubmitted && autoSubmitted !== 'no') return `Auto-Submitted: ${autoSubmitted}`;
  const precedence = h.precedence?.trim().toLowerCase();
  if (precedence && ['bulk', 'junk', 'list', 'auto_reply'].includes(precedence)) return `Precedence: ${precedence}`;
  if (h.xAutoreply !== null) return 'X-Autoreply';
  if (h.xAutorespond !== null) return 'X-Autorespond';
  if (h.xAutoResponseSuppress && /\b(all|autoreply)\b/i.test(h.xAutoResponseSuppress)) return `X-Auto-Response-Suppress: ${h.xAutoResponseSuppress}`;
  if ((h.listId !== null || h.listUnsubscribe !== null) && h.precedence !== null) return 'list mail (List-Id/List-Unsubscribe with Precedence)';
  if (nullEnvelopeSender) return 'null envelope sender';
  if (sender && isRobotAddress(sender)) return `robot sender ${sender}`;
  return null;
}
