import type { Role, TicketState, TicketStatus, Via } from '../shared/domain.js';
import type { ThreadMatch } from '../thread/index.js';
import { roleOf, supportAddressOf, isFullAgent, type Directory } from './people.js';
import { decideCcChanges, type CcChange, type CcPolicy, type SenderKind } from './ccs.js';
import { decideVisibility, carriesPrivateNote } from './visibility.js';
import { splitCommands, interpretCommands, type MailApiCommand, type MailApiEffects } from './mail-api.js';
import { looksForwarded, forwardedSender } from './forwarding.js';
import type { SuspendReason } from './trust-checks.js';
import { DeskgateError } from '../shared/errors.js';
import { planChanges, type ChangeRequest, type PlanPolicy, type PlanTicket } from '../changes/plan.js';

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
  /** The new text (reply cut, R64). */
  body: string;
  /** The whole text, quotes included (R21's leak guard reads it). */
  text: string;
}

export interface RulesSettings {
  thirdPartyReplies: 'private' | 'public';
  useReplyToAsRequester: boolean;
  agentForwarding: boolean;
  ccs: CcPolicy;
  groups: readonly string[];
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
  /** Bodies of the ticket's private notes (R21); only needed when the sender is an agent. */
  privateNotes: readonly string[];
  /** R44: the sender passed authentication (DMARC alignment). Agent powers need it. */
  senderVerified: boolean;
  /** R42: why the message is an auto-reply or bulk mail, or null for a person. */
  automated: string | null;
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
  /** The comment text: the new text without Mail API command lines (R38). */
  body: string;
}

/** Changes to the ticket's fields, each with the rule that made it. */
export interface FieldChanges {
  status?: { from: TicketStatus; to: TicketStatus; rule: string };
  assignee?: { email: string; rule: string };
  group?: { name: string; rule: string };
  requester?: { address: string; rule: string };
  tags?: { add: string[]; rule: string };
}

interface DecisionBase {
  comment: CommentDecision;
  ccChanges: CcChange[];
  commands: MailApiCommand[];
  changes: FieldChanges;
  warnings: string[];
  /** Every rule that took part, for logs, the audit log and `explain`. */
  rules: string[];
}

export interface NewTicketDecision extends DecisionBase {
  action: 'create_ticket';
  subject: string;
  requester: Addressee;
  submitter: Addressee;
  recipient: string;
  group: string | null;
  via: string;
  followUpOf: number | null;
  tags: string[];
  /** CCs copied from a closed ticket (R14). */
  inheritedCcs: Addressee[];
}

export interface CommentOnTicketDecision extends DecisionBase {
  action: 'add_comment';
  ticketId: number;
}

export interface SuspendDecision {
  action: 'suspend';
  reason: SuspendReason;
  rule: string;
  author: Author;
  rules: string[];
}

export type Decision = NewTicketDecision | CommentOnTicketDecision | SuspendDecision;

/** Raised for messages no rule can place (no sender at all, no support recipient). */
export class RulesError extends DeskgateError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'RulesError';
  }
}

/** R7: the first support address in To, then Cc, then the envelope. */
export function pickRecipient(dir: Directory, msg: Pick<RulesMessage, 'to' | 'cc'>, envelopeTo: readonly string[]): string {
  for (const a of [...msg.to.map((m) => m.address), ...msg.cc.map((m) => m.address), ...envelopeTo]) {
    const s = supportAddressOf(dir, a);
    if (s) return s.address;
  }
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
  // R44: a message claiming a staff From that is not authenticated gets no agent powers at all.
  if (author.role !== 'end_user' && !input.senderVerified) {
    return { action: 'suspend', reason: 'unverified_agent', rule: 'R44', author, rules: ['R44'] };
  }
  if (input.match.kind === 'reply') {
    if (!input.ticket) throw new RulesError('RULES_TICKET_MISSING', `ticket ${input.match.ticketId} not found`);
    if (input.automated) return automatedNote(input, input.ticket, author);
    return commentOnTicket(input, input.ticket, author, dir, settings);
  }
  // R42: a robot never opens a ticket; its mail is held for a person to look at.
  if (input.automated) return { action: 'suspend', reason: 'automated_response', rule: 'R42', author, rules: [input.match.rule, 'R42'] };
  return newTicket(input, author, dir, settings);
}

/** R42: an auto-reply on a ticket is kept as a private note flagged automated, and changes nothing else. */
function automatedNote(input: RulesInput, ticket: TicketState, author: Author): CommentOnTicketDecision {
  return {
    action: 'add_comment', ticketId: ticket.id,
    comment: { author, public: false, visibilityRule: 'R42', flags: ['automated'], body: input.message.body },
    ccChanges: [], commands: [], changes: {}, warnings: [], rules: [input.match.rule, 'R42'],
  };
}

/** R38-R40: commands only from full agents; light agents' and others' stay text. */
function mailApi(input: RulesInput, author: Author, dir: Directory, settings: RulesSettings, rules: string[]) {
  const { commands: raw, rest } = splitCommands(input.message.body);
  if (raw.length === 0) return { commands: [] as MailApiCommand[], effects: {} as MailApiEffects, body: input.message.body };
  if (!isFullAgent(author.role)) {
    const reason = author.role === 'light_agent' ? 'light agents cannot use the Mail API (R40)' : 'only agents can use the Mail API (R38)';
    if (author.role === 'light_agent') rules.push('R40');
    return { commands: raw.map((c) => ({ ...c, ignored: true, error: reason })), effects: {}, body: input.message.body };
  }
  const { commands, effects } = interpretCommands(raw, {
    sender: author.address,
    groups: settings.groups,
    isAgent: (a) => isFullAgent(roleOf(dir, a)),
    isSupportAddress: (a) => supportAddressOf(dir, a) !== undefined,
  });
  rules.push('R38');
  if (commands.some((c) => c.error)) rules.push('R39');
  // R39: bad command lines stay in the comment as text.
  const kept = commands.filter((c) => c.error).map((c) => c.line);
  return { commands, effects, body: [...kept, rest].join('\n').trim() };
}

/** The change planner's view of this directory and settings (R1, R3, R25, R30). */
export function planPolicy(dir: Directory, settings: { groups: readonly string[]; ccs: { max: number; blocklist: readonly string[] } }): PlanPolicy {
  return {
    roleOf: (e) => roleOf(dir, e), nameOf: (e) => dir.agents.get(e)?.name ?? null,
    isSupportAddress: (e) => supportAddressOf(dir, e) !== undefined,
    groups: settings.groups, ccs: { max: settings.ccs.max, blocklist: settings.ccs.blocklist },
  };
}

/**
 * Field changes asked by Mail API commands (and R13/R36 status moves), planned by the one change
 * planner so R35 reads the same here as for triggers and the CLI.
 */
function changesFrom(effects: MailApiEffects, ticket: PlanTicket, author: Author, dir: Directory, settings: RulesSettings, extra: ChangeRequest[], rules: string[]): FieldChanges {
  const requests: ChangeRequest[] = [];
  if (effects.assignee) requests.push({ kind: 'assignee', email: effects.assignee, rule: 'R38' });
  if (effects.group) requests.push({ kind: 'group', name: effects.group, rule: 'R38' });
  if (effects.requester) requests.push({ kind: 'requester', email: effects.requester, rule: 'R38' });
  if (effects.tags) requests.push({ kind: 'add_tags', tags: effects.tags, rule: 'R38' });
  if (effects.status) requests.push({ kind: 'status', to: effects.status, rule: 'R38' });
  else requests.push(...extra);
  // Mail API values were validated by interpretCommands (R39), so nothing here is refused
  // except "already so", which changes nothing.
  const plan = planChanges(ticket, requests, { email: author.address, role: author.role }, planPolicy(dir, settings), '');
  const changes: FieldChanges = {};
  for (const c of plan.changes) {
    if (c.rule === 'R35') rules.push('R35');
    if (c.change === 'assignee_changed') changes.assignee = { email: c.person.email, rule: c.rule ?? 'R38' };
    else if (c.change === 'group_changed') changes.group = { name: c.group, rule: c.rule ?? 'R38' };
    else if (c.change === 'requester_changed') changes.requester = { address: c.person.email, rule: c.rule ?? 'R38' };
    else if (c.change === 'tags_added') changes.tags = { add: c.tags, rule: c.rule ?? 'R38' };
    else if (c.change === 'status_changed') changes.status = { from: ticket.status, to: c.to, rule: c.rule ?? 'R35' };
  }
  if (changes.status) rules.push(changes.status.rule);
  return changes;
}

function newTicket(input: RulesInput, author: Author, dir: Directory, settings: RulesSettings): NewTicketDecision {
  const recipient = pickRecipient(dir, input.message, input.envelopeTo);
  const support = supportAddressOf(dir, recipient);
  const rules = [input.match.rule, 'R4', 'R7'];
  const flags: string[] = [];
  let requester: Addressee = { address: author.address, name: author.name };
  const replyTo = input.message.replyTo[0];
  if (settings.useReplyToAsRequester && replyTo && !supportAddressOf(dir, replyTo.address)) {
    requester = replyTo;
    rules.push('R4');
  }
  // R15: an agent's forward makes the original sender the requester.
  if (isFullAgent(author.role) && settings.agentForwarding && looksForwarded(input.message.subject, input.message.text)) {
    const original = forwardedSender(input.message.text);
    if (original && !supportAddressOf(dir, original.address) && roleOf(dir, original.address) === 'end_user') {
      requester = original;
      flags.push('forwarded');
      rules.push('R15');
    }
  }
  const { commands, effects, body } = mailApi(input, author, dir, settings, rules);
  if (effects.requester) requester = { address: effects.requester, name: '' };
  const closed = input.match.kind === 'follow_up' ? input.ticket : null;
  const draft: PlanTicket = {
    status: 'new', requester: { email: requester.address, name: requester.name || null }, assignee: null, group: support?.group ?? null,
    tags: closed?.tags ?? [], ccs: [], followers: [], statusChangedAt: '', solvedAt: null, assignedAt: null,
  };
  const changes = changesFrom({ ...effects, requester: undefined }, draft, author, dir, settings, [], rules);
  const visibility = effects.visibility ?? true;
  const senderKind: SenderKind = isFullAgent(author.role) ? 'agent' : author.role === 'light_agent' ? 'light_agent' : author.address === requester.address ? 'requester' : 'third_party';
  const inheritedCcs = closed ? closed.ccs.filter((c) => c.email !== requester.address).map((c) => ({ address: c.email, name: c.name ?? '' })) : [];
  const ccChanges = decideCcChanges({
    senderKind, sender: author.address, requester: requester.address,
    ccs: inheritedCcs.map((c) => ({ email: c.address, name: c.name })), followers: [],
    from: input.message.from, recipients: [...input.message.to, ...input.message.cc],
  }, dir, settings.ccs).filter((c) => c.change !== 'cc_removed');
  rules.push(...new Set(ccChanges.map((c) => c.rule)));
  return {
    action: 'create_ticket',
    // R14: a follow-up keeps the closed ticket's subject.
    subject: closed ? closed.subject : input.message.subject.trim() || '(no subject)',
    requester,
    submitter: author,
    recipient,
    group: changes.group?.name ?? support?.group ?? null,
    via: closed ? 'closed_ticket' : input.via,
    followUpOf: closed?.id ?? null,
    tags: [...new Set([...(closed?.tags ?? []), ...(changes.tags?.add ?? [])])],
    inheritedCcs,
    comment: { author, public: visibility, visibilityRule: effects.visibility === undefined ? 'R12' : 'R20', flags, body },
    ccChanges,
    commands,
    changes: { ...(changes.status ? { status: changes.status } : {}), ...(changes.assignee ? { assignee: changes.assignee } : {}) },
    warnings: [],
    rules: [...new Set(rules)],
  };
}

function commentOnTicket(input: RulesInput, ticket: TicketState, author: Author, dir: Directory, settings: RulesSettings): CommentOnTicketDecision {
  const rules: string[] = [input.match.rule];
  const warnings: string[] = [];
  const flags: string[] = [];
  const recipients = new Set([...input.message.to, ...input.message.cc].map((a) => a.address));
  const isRequester = author.address === ticket.requester.email;
  const isCc = ticket.ccs.some((c) => c.email === author.address);
  const senderKind: SenderKind = isFullAgent(author.role) ? 'agent'
    : author.role === 'light_agent' ? 'light_agent'
    : isRequester ? 'requester'
    : isCc ? 'cc'
    : 'third_party'; // R32: end users who are not requester or CC are not participants

  const thirdParty = senderKind === 'third_party';
  if (thirdParty) {
    flags.push('third_party');
    if (!ticket.warnings.includes('third_party_reply')) warnings.push('third_party_reply');
  }
  // R34: a third party's commands, CCs and status change nothing.
  const { commands, effects, body } = thirdParty ? { commands: [], effects: {} as MailApiEffects, body: input.message.body } : mailApi(input, author, dir, settings, rules);
  const ccChanges = thirdParty ? [] : decideCcChanges({
    senderKind, sender: author.address, requester: effects.requester ?? ticket.requester.email,
    ccs: ticket.ccs, followers: ticket.followers,
    from: input.message.from, recipients: [...input.message.to, ...input.message.cc],
  }, dir, settings.ccs);
  // R17: end-user CCs are the ticket's, plus those this very message adds (the mail reached them).
  const endUserCcs = [...ticket.ccs.map((c) => c.email), ...ccChanges.filter((c) => c.change === 'cc_added').map((c) => c.address)]
    .filter((a) => roleOf(dir, a) === 'end_user');
  const visibility = decideVisibility({
    senderKind,
    isFollower: ticket.followers.some((f) => f.email === author.address),
    isAssignee: ticket.assignee?.email === author.address,
    isRequester,
    ticketHasPublicComment: ticket.hasPublicComment,
    endUserOnRecipients: recipients.has(ticket.requester.email) || endUserCcs.some((c) => recipients.has(c)),
    requesterOnRecipients: recipients.has(ticket.requester.email),
    mailApi: effects.visibility,
    carriesPrivateNote: senderKind === 'agent' && carriesPrivateNote(input.message.text, input.privateNotes),
    thirdPartyReplies: settings.thirdPartyReplies,
  });
  rules.push(visibility.rule);

  // R13/R37: an end user's public comment reopens; R36: an agent's public reply opens a new ticket.
  const statusMoves: ChangeRequest[] = !visibility.public || thirdParty ? []
    : author.role === 'end_user' ? [{ kind: 'status', to: 'open', onlyFrom: ['pending', 'solved'], rule: 'R13' }]
    : isFullAgent(author.role) ? [{ kind: 'status', to: 'open', onlyFrom: ['new'], rule: 'R36' }]
    : [];
  const changes = changesFrom(effects, ticket, author, dir, settings, statusMoves, rules);
  rules.push(...ccChanges.map((c) => c.rule));
  return {
    action: 'add_comment',
    ticketId: ticket.id,
    comment: { author, public: visibility.public, visibilityRule: visibility.rule, flags, body },
    ccChanges,
    commands,
    changes,
    warnings,
    rules: [...new Set(rules)],
  };
}
