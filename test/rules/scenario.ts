import { evaluate, createDirectory, type Decision, type RulesInput, type RulesSettings } from '../../src/rules/index.js';
import type { TicketState } from '../../src/shared/domain.js';

/** Plain-data scenarios for the pure rules engine: a ticket, a message, the settings. */
export const dir = createDirectory(
  [{ address: 'support@acme.test', name: 'Acme', group: 'Support' }, { address: 'billing@acme.test', group: 'Billing' }],
  [
    { email: 'bob@acme.test', name: 'Bob', role: 'agent', groups: [] },
    { email: 'alice@acme.test', name: 'Alice', role: 'admin', groups: [] },
    { email: 'lea@acme.test', name: 'Léa', role: 'light_agent', groups: [] },
  ],
);

export const defaults: RulesSettings = {
  thirdPartyReplies: 'private', useReplyToAsRequester: false, agentForwarding: true,
  ccs: { enabled: true, endUsersCanAdd: true, agentCcsBecomeFollowers: false, max: 48, blocklist: ['*@competitor.test', 'spam@bad.test'] },
  groups: ['Support', 'Billing'],
};

export function ticket(over: Partial<TicketState> = {}): TicketState {
  return {
    id: 7, subject: 'Printer', status: 'open', requester: { email: 'carol@customer.test', name: 'Carol' }, assignee: null, group: 'Support',
    recipient: 'support@acme.test', via: 'smtp', ccs: [{ email: 'dan@customer.test', name: 'Dan' }], followers: [], tags: ['vip'], warnings: [],
    followUpOf: null, hasPublicComment: true, createdAt: '2026-11-23T10:00:00.000Z', updatedAt: '2026-11-23T10:00:00.000Z',
    statusChangedAt: '2026-11-23T10:00:00.000Z', solvedAt: null, assignedAt: null, ...over,
  };
}

export interface Scenario {
  from?: string;
  to?: string[];
  cc?: string[];
  subject?: string;
  body?: string;
  text?: string;
  replyTo?: string;
  ticket?: Partial<TicketState> | null;
  closed?: boolean;
  privateNotes?: string[];
  verified?: boolean;
  automated?: string;
  settings?: Partial<Omit<RulesSettings, 'ccs'>> & { ccs?: Partial<RulesSettings['ccs']> };
}

const a = (address: string) => ({ address, name: address.split('@')[0]! });

export function run(s: Scenario): Decision {
  const isNew = s.ticket === null;
  const t = isNew ? null : ticket({ ...(s.ticket ?? {}), ...(s.closed ? { status: 'closed' as const } : {}) });
  const body = s.body ?? 'Hello';
  const input: RulesInput = {
    message: {
      from: [a(s.from ?? 'carol@customer.test')], replyTo: s.replyTo ? [a(s.replyTo)] : [],
      to: (s.to ?? ['support@acme.test']).map(a), cc: (s.cc ?? []).map(a), subject: s.subject ?? 'Help', body, text: s.text ?? body,
    },
    envelopeFrom: null, envelopeTo: ['support@acme.test'], via: 'smtp',
    match: isNew ? { kind: 'new', rule: 'R12' } : s.closed ? { kind: 'follow_up', closedTicketId: 7, rule: 'R14', matchedBy: 'R10' } : { kind: 'reply', ticketId: 7, rule: 'R10', by: '<x@y>' },
    ticket: t, privateNotes: s.privateNotes ?? [], senderVerified: s.verified ?? true, automated: s.automated ?? null,
  };
  const settings = { ...defaults, ...s.settings, ccs: { ...defaults.ccs, ...s.settings?.ccs } };
  return evaluate(input, dir, settings);
}

/** The parts of a decision scenarios assert on, flattened. */
export function outcome(d: Decision) {
  if (d.action === 'suspend') return { action: d.action, reason: d.reason };
  const by = (kind: string) => d.ccChanges.filter((c) => c.change === kind).map((c) => c.address);
  return {
    action: d.action,
    public: d.comment.public,
    rule: d.comment.visibilityRule,
    flags: d.comment.flags,
    body: d.comment.body,
    ccAdded: by('cc_added'),
    ccRemoved: by('cc_removed'),
    ccNotAdded: by('cc_not_added'),
    followersAdded: by('follower_added'),
    status: d.changes.status?.to ?? null,
    assignee: d.changes.assignee?.email ?? null,
    requester: d.action === 'create_ticket' ? d.requester.address : d.changes.requester?.address ?? null,
    commandErrors: d.commands.filter((c) => c.error).map((c) => c.line),
    warnings: d.warnings,
    rules: d.rules,
  };
}

export type Outcome = Exclude<ReturnType<typeof outcome>, { action: 'suspend' }>;
