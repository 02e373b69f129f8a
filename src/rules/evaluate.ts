import type { Role, TicketState, TicketStatus, Via } from '../shared/domain.js';
import type { ThreadMatch } from '../thread/index.js';
import { roleOf, supportAddressOf, isFullAgent, type Directory } from './people.js';

export interface Addressee {
  address: string;
  name: string;
}

/** The parts of a parsed message the rules read. */
export interface RulesMessage {
  from: readonly Addressee[];
  replyTo: readonly Addressee[];
  to: readonly Addressee[];
  cc: readonly Addressee[];
  subject: string;
}

export interface RulesSettings {
  thirdPartyReplies: 'private' | 'public';
  useReplyToAsRequester: boolean;
}

export interface RulesInput {
  message: RulesMessage;
  /** The sender when the message has no usable From (the envelope sender), else null. */
  envelopeFrom: string | null;
  /** Support addresses the message was accepted for, in envelope order. */
  envelopeTo: readonly string[];
  via: Via;
  match: ThreadMatch;
  /** The matched ticket (reply) or the closed ticket (follow-up); null for a new ticket. */
  ticket: TicketState | null;
}

export interface Author extends Addressee {
  role: Role;
}

export interface CommentDecision {
  author: Author;
  public: boolean;
  /** R22: the rule that made the comment public or private. */
  visibilityRule: string;
  flags: string[];
}

export interface NewTicketDecision {
  action: 'create_ticket';
  subject: string;
  requester: Addressee;
  submitter: Addressee;
  recipient: string;
  group: string | null;
  via: string;
  followUpOf: number | null;
  tags: string[];
  ccs: Addressee[];
  comment: CommentDecision;
  /** Every rule that took part, for logs and `explain`. */
  rules: string[];
}

export interface CommentOnTicketDecision {
  action: 'add_comment';
  ticketId: number;
  comment: CommentDecision;
  statusChange: { from: TicketStatus; to: TicketStatus; rule: string } | null;
  warnings: string[];
  rules: string[];
}

export type Decision = NewTicketDecision | CommentOnTicketDecision;

/** Raised for messages no rule can place (no sender at all). */
export class RulesError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/**
 * R7: the support address a message is for — the first support address in To, then Cc,
 * then the envelope.
 */
export function pickRecipient(dir: Directory, msg: RulesMessage, envelopeTo: readonly string[]): string {
  for (const a of [...msg.to.map((m) => m.address), ...msg.cc.map((m) => m.address), ...envelopeTo]) {
    const s = supportAddressOf(dir, a);
    if (s) return s.address;
  }
  const first = envelopeTo[0] && supportAddressOf(dir, envelopeTo[0]);
  if (first) return first.address;
  throw new RulesError('RULES_NO_RECIPIENT', 'message is not addressed to any support address');
}

function senderOf(msg: RulesMessage, envelopeFrom: string | null): Addressee {
  const from = msg.from[0];
  if (from) return from;
  if (envelopeFrom) return { address: envelopeFrom, name: '' };
  throw new RulesError('RULES_NO_SENDER', 'message has no From address and no envelope sender');
}

/** Decides what an inbound message does to the tickets. Pure: plain data in, plain data out. */
export function evaluate(input: RulesInput, dir: Directory, settings: RulesSettings): Decision {
  const sender = senderOf(input.message, input.envelopeFrom);
  const author: Author = { ...sender, role: roleOf(dir, sender.address) };
  if (input.match.kind === 'reply') {
    if (!input.ticket) throw new RulesError('RULES_TICKET_MISSING', `ticket ${input.match.ticketId} not found`);
    return commentOnTicket(input, input.ticket, author, dir, settings);
  }
  return newTicket(input, author, dir, settings);
}

function newTicket(input: RulesInput, author: Author, dir: Directory, settings: RulesSettings): NewTicketDecision {
  const recipient = pickRecipient(dir, input.message, input.envelopeTo);
  const support = supportAddressOf(dir, recipient);
  const rules = [input.match.rule, 'R4', 'R7'];
  let requester: Addressee = { address: author.address, name: author.name };
  const replyTo = input.message.replyTo[0];
  if (settings.useReplyToAsRequester && replyTo && !supportAddressOf(dir, replyTo.address)) {
    requester = replyTo;
    rules.push('R4:reply_to');
  }
  const closed = input.match.kind === 'follow_up' ? input.ticket : null;
  return {
    action: 'create_ticket',
    // R14: a follow-up keeps the closed ticket's subject.
    subject: closed ? closed.subject : input.message.subject.trim() || '(no subject)',
    requester,
    submitter: author,
    recipient,
    group: support?.group ?? null,
    via: closed ? 'closed_ticket' : input.via,
    followUpOf: closed?.id ?? null,
    tags: closed ? [...closed.tags] : [],
    ccs: closed ? closed.ccs.filter((c) => c.email !== requester.address).map((c) => ({ address: c.email, name: c.name ?? '' })) : [],
    comment: { author, public: true, visibilityRule: 'R12', flags: [] },
    rules,
  };
}

function addressesOn(msg: RulesMessage): Set<string> {
  return new Set([...msg.to, ...msg.cc].map((a) => a.address));
}

function commentOnTicket(input: RulesInput, ticket: TicketState, author: Author, dir: Directory, settings: RulesSettings): CommentOnTicketDecision {
  const rules: string[] = [input.match.rule];
  const warnings: string[] = [];
  const flags: string[] = [];
  const recipients = addressesOn(input.message);
  const isRequester = author.address === ticket.requester.email;
  const isCc = ticket.ccs.some((c) => c.email === author.address);
  const isFollower = ticket.followers.some((f) => f.email === author.address);
  const isAssignee = ticket.assignee?.email === author.address;
  let isPublic: boolean;
  let visibilityRule: string;

  if (author.role === 'light_agent') {
    isPublic = false;
    visibilityRule = 'R19';
  } else if (isFullAgent(author.role)) {
    if (isFollower && !isAssignee && !isRequester) {
      isPublic = false;
      visibilityRule = 'R18';
    } else if (!ticket.hasPublicComment) {
      isPublic = false;
      visibilityRule = 'R17';
    } else {
      const endUserCcs = ticket.ccs.filter((c) => roleOf(dir, c.email) === 'end_user').map((c) => c.email);
      isPublic = recipients.has(ticket.requester.email) || endUserCcs.some((c) => recipients.has(c));
      visibilityRule = 'R17';
    }
  } else if (isRequester) {
    isPublic = true;
    visibilityRule = 'R16';
  } else if (isCc) {
    isPublic = recipients.has(ticket.requester.email);
    visibilityRule = 'R16';
  } else {
    // R33: an end user who is not a participant (R32).
    isPublic = settings.thirdPartyReplies === 'public';
    visibilityRule = 'R33';
    flags.push('third_party');
    if (!ticket.warnings.includes('third_party_reply')) warnings.push('third_party_reply');
  }
  rules.push(visibilityRule);

  let statusChange: CommentOnTicketDecision['statusChange'] = null;
  const thirdParty = flags.includes('third_party');
  if (isPublic && author.role === 'end_user' && !thirdParty && (ticket.status === 'solved' || ticket.status === 'pending')) {
    statusChange = { from: ticket.status, to: 'open', rule: 'R13' };
  } else if (isPublic && isFullAgent(author.role) && ticket.status === 'new') {
    statusChange = { from: 'new', to: 'open', rule: 'R36' };
  }
  if (statusChange) rules.push(statusChange.rule);
  return { action: 'add_comment', ticketId: ticket.id, comment: { author, public: isPublic, visibilityRule, flags }, statusChange, warnings, rules };
}
