import { headerSafe } from '../triggers/templates.js';

export interface ComposeInput {
  ticketId: number;
  /** The ticket's support address (R55) and its display name. */
  support: { address: string; name: string | null };
  /** Signed reply token of the ticket (R11). */
  token: string;
  to: Array<{ email: string; name: string | null }>;
  cc: Array<{ email: string; name: string | null }>;
  subject: string;
  body: string;
  replyLine: string;
  /** The message this one answers: the inbound mail of the update, else the ticket's latest. */
  inReplyTo: string | null;
  /** The ticket's Message-IDs, oldest first. */
  references: readonly string[];
  /** R58: auto-replied for the receipt of an inbound mail, auto-generated for the rest. */
  autoSubmitted: 'auto-replied' | 'auto-generated';
  /** Unique part of the new Message-ID. */
  unique: string;
}

export interface ComposedMessage {
  from: { email: string; name: string | null };
  replyTo: string;
  to: Array<{ email: string; name: string | null }>;
  cc: Array<{ email: string; name: string | null }>;
  subject: string;
  body: string;
  messageId: string;
  inReplyTo: string | null;
  references: string[];
  headers: Record<string, string>;
}

/** support+<token>@domain: replies carry the token even when clients drop the headers (R11). */
export function replyAddress(support: string, token: string): string {
  const at = support.lastIndexOf('@');
  return `${support.slice(0, at)}+${token}${support.slice(at)}`;
}

/**
 * R55-R58: From the ticket's support address, Reply-To with the token, a new Message-ID,
 * threading headers, the reply line on top, [DG-token] in the footer, robots warned off.
 * Every header value is made header-safe (R54). Pure.
 */
export function composeNotification(i: ComposeInput): ComposedMessage {
  const domain = i.support.address.slice(i.support.address.lastIndexOf('@') + 1);
  const safePerson = (p: { email: string; name: string | null }) => ({ email: headerSafe(p.email), name: p.name ? headerSafe(p.name) : null });
  // Keep References short: the first id (the thread root) and the newest ones.
  const refs = i.references.length > 20 ? [i.references[0]!, ...i.references.slice(-19)] : [...i.references];
  return {
    from: safePerson({ email: i.support.address, name: i.support.name }),
    replyTo: replyAddress(i.support.address, i.token),
    to: i.to.map(safePerson),
    cc: i.cc.map(safePerson),
    subject: headerSafe(i.subject),
    body: `${i.replyLine}\n\n${i.body.trim()}\n\n[DG-${i.token}]\n`,
    messageId: `<dg.${i.ticketId}.${i.unique}@${domain}>`,
    inReplyTo: i.inReplyTo,
    references: refs,
    headers: { 'Auto-Submitted': i.autoSubmitted, 'X-Auto-Response-Suppress': 'All', 'X-Deskgate-Ticket': String(i.ticketId) },
  };
}
