/** Domain words shared by every stage (R2, R3, R35). */
export type TicketStatus = 'new' | 'open' | 'pending' | 'solved' | 'closed';
export const TICKET_STATUSES: readonly TicketStatus[] = ['new', 'open', 'pending', 'solved', 'closed'];
export type Role = 'admin' | 'agent' | 'light_agent' | 'end_user';
export type Via = 'smtp' | 'lmtp' | 'imap' | 'pipe';

/** A tag is one word: letters, digits, _ . : - (stored lower-case). */
export function isValidTag(tag: string): boolean {
  return /^[\p{L}\p{N}_.:-]{1,64}$/u.test(tag);
}

export interface Person {
  email: string;
  name: string | null;
}

/** What the deciding stages (threading, rules) need to know about a ticket. */
export interface TicketState {
  id: number;
  subject: string;
  status: TicketStatus;
  requester: Person;
  assignee: Person | null;
  group: string | null;
  recipient: string;
  via: string;
  ccs: Person[];
  followers: Person[];
  tags: string[];
  warnings: string[];
  followUpOf: number | null;
  hasPublicComment: boolean;
  createdAt: string;
  updatedAt: string;
  statusChangedAt: string;
  solvedAt: string | null;
  assignedAt: string | null;
}

/** What bounces have said about one address (R67/R68): what the suppression list keeps. */
export interface SuppressionState {
  address: string;
  suppressed: boolean;
  reason: string | null;
  code: string | null;
  diagnostic: string | null;
  bounces: number;
  softInRow: number;
  since: string | null;
  /** When the last bounce was counted (R68: soft bounces further apart than SOFT_ROW_GAP start a new row). */
  lastBounce: string | null;
}
