import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, createDirectory, pickRecipient, type RulesInput, type Decision } from '../../src/rules/index.js';
import { checkStatusChange, isBlocklisted } from '../../src/rules/index.js';
import type { TicketState } from '../../src/shared/domain.js';

const dir = createDirectory(
  [{ address: 'support@acme.test', name: 'Acme', group: 'Support' }, { address: 'billing@acme.test', group: 'Billing' }],
  [
    { email: 'bob@acme.test', name: 'Bob', role: 'agent', groups: [] },
    { email: 'alice@acme.test', name: 'Alice', role: 'admin', groups: [] },
    { email: 'lea@acme.test', name: 'Léa', role: 'light_agent', groups: [] },
  ],
);
const settings = { thirdPartyReplies: 'private' as const, useReplyToAsRequester: false };
const a = (address: string, name = '') => ({ address, name });

function ticket(over: Partial<TicketState> = {}): TicketState {
  return {
    id: 7, subject: 'Printer', status: 'open', requester: { email: 'carol@customer.test', name: 'Carol' }, assignee: null, group: 'Support',
    recipient: 'support@acme.test', via: 'smtp', ccs: [{ email: 'dan@customer.test', name: 'Dan' }], followers: [], tags: ['vip'], warnings: [],
    followUpOf: null, hasPublicComment: true, ...over,
  };
}

function input(over: Partial<RulesInput> & { from?: string; to?: string[]; cc?: string[] } = {}): RulesInput {
  const { from, to, cc, ...rest } = over;
  return {
    message: { from: [a(from ?? 'carol@customer.test', 'Carol')], replyTo: [], to: (to ?? ['support@acme.test']).map((x) => a(x)), cc: (cc ?? []).map((x) => a(x)), subject: 'Help' },
    envelopeFrom: null, envelopeTo: ['support@acme.test'], via: 'smtp', match: { kind: 'reply', ticketId: 7, rule: 'R10', by: '<x>' }, ticket: ticket(), ...rest,
  };
}

function comment(d: Decision) {
  return { public: d.comment.public, rule: d.comment.visibilityRule, flags: d.comment.flags };
}

describe('R12/R7/R4: new tickets', () => {
  const newMatch = { kind: 'new', rule: 'R12' } as const;
  it('R12: requester is the sender, group from the support address, first comment public', () => {
    const d = evaluate(input({ match: newMatch, ticket: null, to: ['billing@acme.test'] }), dir, settings);
    assert.equal(d.action, 'create_ticket');
    if (d.action !== 'create_ticket') return;
    assert.equal(d.requester.address, 'carol@customer.test');
    assert.equal(d.recipient, 'billing@acme.test');
    assert.equal(d.group, 'Billing');
    assert.deepEqual(comment(d), { public: true, rule: 'R12', flags: [] });
  });
  it('R4: Reply-To does not change the requester unless use_reply_to_as_requester is on', () => {
    const i = input({ match: newMatch, ticket: null });
    i.message = { ...i.message, replyTo: [a('other@customer.test', 'Other')] };
    const off = evaluate(i, dir, settings);
    const on = evaluate(i, dir, { ...settings, useReplyToAsRequester: true });
    assert.equal(off.action === 'create_ticket' && off.requester.address, 'carol@customer.test');
    assert.equal(on.action === 'create_ticket' && on.requester.address, 'other@customer.test');
  });
  const recipientCases: Array<[string, string[], string[], string[], string]> = [
    ['first support address in To', ['x@y.test', 'billing@acme.test', 'support@acme.test'], [], ['support@acme.test'], 'billing@acme.test'],
    ['then Cc', ['x@y.test'], ['support@acme.test'], ['billing@acme.test'], 'support@acme.test'],
    ['then the envelope', ['x@y.test'], [], ['billing@acme.test'], 'billing@acme.test'],
    ['plus-addresses fold to their support address (R1)', ['support+abc@acme.test'], [], ['support+abc@acme.test'], 'support@acme.test'],
  ];
  for (const [name, to, cc, env, expected] of recipientCases) {
    it(`R7: recipient is the ${name}`, () => {
      assert.equal(pickRecipient(dir, { from: [], replyTo: [], to: to.map((x) => a(x)), cc: cc.map((x) => a(x)), subject: '' }, env), expected);
    });
  }
  it('R14: a follow-up copies subject, tags and CCs of the closed ticket, with via closed_ticket', () => {
    const closed = ticket({ status: 'closed', id: 3 });
    const d = evaluate(input({ match: { kind: 'follow_up', closedTicketId: 3, rule: 'R14', matchedBy: 'R10' }, ticket: closed, from: 'eve@customer.test' }), dir, settings);
    assert.equal(d.action, 'create_ticket');
    if (d.action !== 'create_ticket') return;
    assert.deepEqual([d.subject, d.followUpOf, d.via, d.tags, d.ccs.map((c) => c.address), d.requester.address],
      ['Printer', 3, 'closed_ticket', ['vip'], ['dan@customer.test'], 'eve@customer.test']);
  });
  it('R8: no From and no envelope sender is an error with a code', () => {
    const i = input({ match: newMatch, ticket: null });
    i.message = { ...i.message, from: [] };
    assert.throws(() => evaluate(i, dir, settings), /no From address/);
  });
});

describe('visibility of replies (R16, R17, R18, R19, R33) and status (R13, R36)', () => {
  const cases: Array<{ name: string; from: string; to?: string[]; cc?: string[]; t?: Partial<TicketState>; expected: { public: boolean; rule: string; flags: string[] }; status?: string | null }> = [
    { name: 'R16: the requester is public', from: 'carol@customer.test', expected: { public: true, rule: 'R16', flags: [] } },
    { name: 'R16: a CC with the requester in Cc (Reply-all) is public', from: 'dan@customer.test', cc: ['carol@customer.test'], expected: { public: true, rule: 'R16', flags: [] } },
    { name: 'R16: a CC leaving out the requester is private', from: 'dan@customer.test', expected: { public: false, rule: 'R16', flags: [] } },
    { name: 'R17: an agent replying to the support address only is private', from: 'bob@acme.test', expected: { public: false, rule: 'R17', flags: [] } },
    { name: 'R17: an agent with the requester in To is public', from: 'bob@acme.test', to: ['support@acme.test', 'carol@customer.test'], expected: { public: true, rule: 'R17', flags: [] } },
    { name: 'R17: an agent with an end-user CC in Cc is public', from: 'alice@acme.test', cc: ['dan@customer.test'], expected: { public: true, rule: 'R17', flags: [] } },
    { name: 'R17: an agent on a ticket with no public comment stays private', from: 'bob@acme.test', to: ['carol@customer.test'], t: { hasPublicComment: false }, expected: { public: false, rule: 'R17', flags: [] } },
    { name: 'R18: a follower is private even with Reply-all', from: 'alice@acme.test', to: ['carol@customer.test'], t: { followers: [{ email: 'alice@acme.test', name: 'Alice' }] }, expected: { public: false, rule: 'R18', flags: [] } },
    { name: 'R18: a follower who is the assignee follows R17', from: 'alice@acme.test', to: ['carol@customer.test'], t: { followers: [{ email: 'alice@acme.test', name: 'A' }], assignee: { email: 'alice@acme.test', name: 'A' } }, expected: { public: true, rule: 'R17', flags: [] } },
    { name: 'R19: a light agent is always private', from: 'lea@acme.test', to: ['carol@customer.test'], expected: { public: false, rule: 'R19', flags: [] } },
    { name: 'R33: a non-participant end user is a private third-party note', from: 'frank@other.test', to: ['carol@customer.test'], expected: { public: false, rule: 'R33', flags: ['third_party'] }, status: null },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = evaluate(input({ from: c.from, to: c.to ?? ['support@acme.test'], cc: c.cc ?? [], ticket: ticket(c.t) }), dir, settings);
      assert.deepEqual(comment(d), c.expected);
    });
  }
  it('R33: third_party_replies: public makes the comment public but still flagged, with a ticket warning', () => {
    const d = evaluate(input({ from: 'frank@other.test' }), dir, { ...settings, thirdPartyReplies: 'public' });
    assert.equal(d.action, 'add_comment');
    if (d.action !== 'add_comment') return;
    assert.deepEqual(comment(d), { public: true, rule: 'R33', flags: ['third_party'] });
    assert.deepEqual(d.warnings, ['third_party_reply']);
  });
  const statusCases: Array<[string, string, TicketState['status'], string | null]> = [
    ['R13: requester reply reopens solved', 'carol@customer.test', 'solved', 'open'],
    ['R13: requester reply reopens pending', 'carol@customer.test', 'pending', 'open'],
    ['R13: requester reply leaves new alone (never back to new, R35)', 'carol@customer.test', 'new', null],
    ['R34: a third-party reply never reopens', 'frank@other.test', 'solved', null],
    ['R36: an agent public reply opens a new ticket', 'bob@acme.test', 'new', 'open'],
  ];
  for (const [name, from, status, to] of statusCases) {
    it(name, () => {
      const d = evaluate(input({ from, to: ['support@acme.test', 'carol@customer.test'], ticket: ticket({ status }) }), dir, { ...settings, thirdPartyReplies: 'public' });
      assert.equal(d.action === 'add_comment' ? d.statusChange?.to ?? null : 'n/a', to);
    });
  }
});

describe('R35: explicit status changes', () => {
  const cases: Array<[string, Parameters<typeof checkStatusChange>, boolean, boolean?]> = [
    ['open -> pending is free', [{ status: 'open', assignee: null }, 'pending', 'agent'], true],
    ['nothing goes back to new', [{ status: 'open', assignee: null }, 'new', 'admin'], false],
    ['closed only from solved', [{ status: 'open', assignee: { email: 'b', name: null } }, 'closed', 'admin'], false],
    ['solved -> closed', [{ status: 'solved', assignee: { email: 'b', name: null } }, 'closed', 'admin'], true],
    ['a closed ticket never changes (R14)', [{ status: 'closed', assignee: null }, 'open', 'admin'], false],
    ['solving unassigned by an agent assigns the agent', [{ status: 'open', assignee: null }, 'solved', 'agent'], true, true],
    ['solving unassigned without an agent is refused', [{ status: 'open', assignee: null }, 'solved', null], false],
  ];
  for (const [name, args, ok, assign] of cases) {
    it(`R35: ${name}`, () => {
      const r = checkStatusChange(...args);
      assert.equal(r.ok, ok);
      if (assign !== undefined && r.ok) assert.equal(r.assignActor, assign);
    });
  }
  it('R25: blocklist matches exact addresses and *@domain', () => {
    assert.equal(isBlocklisted('x@competitor.test', ['*@competitor.test']), true);
    assert.equal(isBlocklisted('x@sub.competitor.test', ['*@competitor.test']), false);
    assert.equal(isBlocklisted('spam@x.test', ['spam@x.test']), true);
  });
});
