export type SuspendReason = 'automated_response' | 'from_support_address' | 'email_loop' | 'unverified_agent' | 'failed_dmarc';

export interface TrustCheckInput {
  /** The sender is one of deskgate's support addresses (R43). */
  fromSupportAddress: boolean;
  /** Messages from this sender received in the hour before this one (R43). */
  senderCountBefore: number;
  perSenderPerHour: number;
  dmarc: string | null;
  dmarcPolicy: string | null;
  /** Checks a release skips (R41). */
  skip: readonly string[];
}

/**
 * R43, R45: checks that hold a message before any rule runs. R42 (automated) and R44
 * (unverified agent) depend on the ticket and the sender's role, so the rules engine applies them.
 * Pure.
 */
export function preRulesSuspension(i: TrustCheckInput): { reason: SuspendReason; rule: string } | null {
  const on = (r: SuspendReason) => !i.skip.includes(r);
  if (on('from_support_address') && i.fromSupportAddress) return { reason: 'from_support_address', rule: 'R43' };
  // The first N of the hour are processed, the next N suspended; SMTP refuses the rest (450).
  if (on('email_loop') && i.senderCountBefore >= i.perSenderPerHour) return { reason: 'email_loop', rule: 'R43' };
  if (on('failed_dmarc') && i.dmarc === 'fail' && i.dmarcPolicy === 'reject') return { reason: 'failed_dmarc', rule: 'R45' };
  return null;
}
