import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planChanges, statusVerdict, refusalMessage, type Actor, type ChangeRequest, type PlanPolicy, type PlanTicket } from '../../src/changes/index.js';
import type { Role } from '../../src/shared/domain.js';

/** The one change planner, with plain data: every caller (email, triggers, CLI, API) gets these answers. */
const roles: Record<string, Role> = { 'alice@acme.test': 'admin', 'bob@acme.test': 'agent', 'lea@acme.test': 'light_agent' };
const policy: PlanPolicy = {
  roleOf: (e) => roles[e] ?? 'end_user',
  nameOf: (e) => ({ 'bob@acme.test': 'Bob' } as Record<string, string>)[e] ?? null,
  isSupportAddress: (e) => e.startsWith('support@') || e.startsWith('support+'),
  groups: ['Support', 'Billing'],
  ccs: { max: 2, blocklist: ['*@competitor.test', 'spam@x.test'] },
};
const ticket = (over: Partial<PlanTicket> = {}): PlanTicket => ({
  status: 'open', requester: { email: 'carol@customer.test', name: 'Carol' }, assignee: null, group: 'Support', tags: [],
  ccs: [], followers: [], warnings: [], statusChangedAt: '2026-11-01T00:00:00.000Z', solvedAt: null, assignedAt: null, ...over,
});
const NOW = '2026-12-01T12:00:00.000Z';
const bob: Actor = { email: 'bob@acme.test', role: 'agent' };
const alice: Actor = { email: 'alice@acme.test', role: 'admin' };
const system: Actor = { email: null, role: null };
const lea: Actor = { email: 'lea@acme.test', role: 'light_agent' };
const bobPerson = { email: 'bob@acme.test', name: 'Bob' };

interface Case {
  name: string;
  t?: Partial<PlanTicket>;
  r: ChangeRequest[];
  actor?: Actor;
  /** The audit names of the planned changes, with their rule. */
  changes?: string[];
  refused?: RegExp;
  status?: string;
}

function table(title: string, cases: Case[]): void {
  describe(title, () => {
    for (const c of cases) {
      it(c.name, () => {
        const plan = planChanges(ticket(c.t), c.r, c.actor ?? bob, policy, NOW);
        if (c.changes) assert.deepEqual(plan.changes.map((x) => `${x.change}:${x.rule}`), c.changes);
        const msg = refusalMessage(plan.refused);
        if (c.refused) assert.match(msg ?? '', c.refused);
        else assert.equal(msg, null, 'nothing refused');
        if (c.status) assert.equal(plan.ticket.status, c.status);
      });
    }
  });
}

table('R35 status, whoever asks', [
  { name: 'R35: open -> pending is free for an agent', r: [{ kind: 'status', to: 'pending' }], changes: ['status_changed:R35'], status: 'pending' },
  { name: 'R35: nothing goes back to new', r: [{ kind: 'status', to: 'new' }], actor: alice, changes: [], refused: /never goes back to new \(R35\)/ },
  { name: 'R35: closed only from solved', t: { assignee: bobPerson }, r: [{ kind: 'status', to: 'closed' }], actor: alice, refused: /only a solved ticket can be closed/ },
  { name: 'R35: an admin closes a solved ticket', t: { status: 'solved', assignee: bobPerson }, r: [{ kind: 'status', to: 'closed' }], actor: alice, changes: ['status_changed:R35'], status: 'closed' },
  { name: 'R35: the system (automation, admin CLI) closes a solved ticket', t: { status: 'solved', assignee: bobPerson }, r: [{ kind: 'status', to: 'closed', rule: 'R52' }], actor: system, changes: ['status_changed:R52'] },
  { name: 'R35: an agent may not close', t: { status: 'solved', assignee: bobPerson }, r: [{ kind: 'status', to: 'closed' }], refused: /only an admin or an automation/ },
  { name: 'R14: a closed ticket never changes', t: { status: 'closed' }, r: [{ kind: 'status', to: 'open' }, { kind: 'add_tags', tags: ['x'] }], actor: alice, changes: [], refused: /closed ticket never changes \(R14\)/ },
  { name: 'R35: solving an unassigned ticket assigns the agent who solves it', r: [{ kind: 'status', to: 'solved' }], changes: ['assignee_changed:R35', 'status_changed:R35'], status: 'solved' },
  { name: 'R35: the system cannot solve an unassigned ticket', r: [{ kind: 'status', to: 'solved' }], actor: system, refused: /solving needs an assignee \(R35\)/ },
  { name: 'R35: a light agent cannot solve an unassigned ticket', r: [{ kind: 'status', to: 'solved' }], actor: lea, refused: /needs an assignee/ },
  { name: 'R35: assigning a new ticket opens it', t: { status: 'new' }, r: [{ kind: 'assignee', email: 'bob@acme.test' }], changes: ['assignee_changed:R3', 'status_changed:R35'], status: 'open' },
  { name: 'R35: assigning a new ticket and setting pending in one update ends pending', t: { status: 'new' }, r: [{ kind: 'assignee', email: 'bob@acme.test' }, { kind: 'status', to: 'pending' }], changes: ['assignee_changed:R3', 'status_changed:R35'], status: 'pending' },
  { name: 'R36: an "only from new" move does nothing on a pending ticket', t: { status: 'pending' }, r: [{ kind: 'status', to: 'open', onlyFrom: ['new'], rule: 'R36' }], changes: [], status: 'pending' },
  { name: 'R13: reopening from solved carries its rule', t: { status: 'solved', assignee: bobPerson }, r: [{ kind: 'status', to: 'open', onlyFrom: ['pending', 'solved'], rule: 'R13' }], actor: { email: 'carol@customer.test', role: 'end_user' }, changes: ['status_changed:R13'] },
  { name: 'R35: the same status again is "already so", not an error', r: [{ kind: 'status', to: 'open' }], changes: [] },
]);

table('R3, R25, R30 people', [
  { name: 'R3: a light agent is not an assignee', r: [{ kind: 'assignee', email: 'lea@acme.test' }], refused: /not an agent or admin \(R3\)/ },
  { name: 'R3: an end user is not an assignee', r: [{ kind: 'assignee', email: 'carol@customer.test' }], refused: /R3/ },
  { name: 'R30: only agents and light agents follow', r: [{ kind: 'add_follower', email: 'carol@customer.test' }], refused: /R30/ },
  { name: 'R30: a light agent may follow', r: [{ kind: 'add_follower', email: 'lea@acme.test' }], changes: ['follower_added:R30'] },
  { name: 'R25: a blocklisted domain is never a CC', r: [{ kind: 'add_cc', email: 'eve@competitor.test' }], refused: /blocklisted \(R25\)/ },
  { name: 'R25: a blocklisted address is never a follower either', r: [{ kind: 'add_follower', email: 'spam@x.test' }], refused: /R25|R30/ },
  { name: 'R25: the requester is never a CC', r: [{ kind: 'add_cc', email: 'carol@customer.test' }], refused: /requester \(R25\)/ },
  { name: 'R1: a support address is never a CC', r: [{ kind: 'add_cc', email: 'support+x@acme.test' }], refused: /support address \(R1\)/ },
  { name: 'R25: a follower stays a follower', t: { followers: [bobPerson] }, r: [{ kind: 'add_cc', email: 'bob@acme.test' }], refused: /follower/ },
  { name: 'R25: at most ccs.max CCs; the one past it is refused', r: ['a', 'b', 'c'].map((x) => ({ kind: 'add_cc' as const, email: `${x}@customer.test`, rule: 'R24' })), changes: ['cc_added:R24', 'cc_added:R24'], refused: /already has 2 CCs \(R25\)/ },
  { name: 'R25: an existing CC is not added twice (already so)', t: { ccs: [{ email: 'dan@customer.test', name: null }] }, r: [{ kind: 'add_cc', email: 'DAN@customer.test' }], changes: [] },
  { name: 'removing someone who is not a CC is "already so"', r: [{ kind: 'remove_cc', email: 'dan@customer.test' }], changes: [] },
  { name: 'R1: a support address is never the requester', r: [{ kind: 'requester', email: 'support@acme.test' }], refused: /R1/ },
  { name: 'an address that is no address is refused', r: [{ kind: 'add_cc', email: 'not an address' }], refused: /not an email address/ },
]);

table('fields', [
  { name: 'a group must be configured', r: [{ kind: 'group', name: 'Sales' }], refused: /not a configured group/ },
  { name: 'tags are single words, lower-cased, added once', t: { tags: ['vip'] }, r: [{ kind: 'add_tags', tags: ['VIP', 'Printer', 'printer'] }], changes: ['tags_added:null'] },
  { name: 'a bad tag refuses that request', r: [{ kind: 'add_tags', tags: ['two words'] }], refused: /single words/ },
  { name: 'R33: a warning is added once', t: { warnings: ['third_party_reply'] }, r: [{ kind: 'add_warning', warning: 'third_party_reply', rule: 'R33' }], changes: [] },
]);

describe('the plan', () => {
  it('R46: reports what moved, for the trigger engine', () => {
    const plan = planChanges(ticket({ status: 'new' }), [{ kind: 'assignee', email: 'bob@acme.test' }, { kind: 'group', name: 'Billing' }], bob, policy, NOW);
    assert.deepEqual([plan.statusFrom, plan.statusChanged, plan.assigneeChanged, plan.groupChanged], ['new', true, true, true]);
    assert.deepEqual(plan.ticket.assignee, bobPerson, 'the agent name comes from the directory');
    assert.equal(plan.ticket.assignedAt, NOW);
  });
  it('plans against the ticket as earlier requests left it, and never changes its input', () => {
    const t = ticket();
    const plan = planChanges(t, [{ kind: 'add_cc', email: 'dan@customer.test' }, { kind: 'remove_cc', email: 'dan@customer.test' }], bob, policy, NOW);
    assert.deepEqual(plan.changes.map((c) => c.change), ['cc_added', 'cc_removed']);
    assert.deepEqual(t.ccs, []);
    assert.deepEqual(plan.ticket.ccs, []);
  });
  it('R35: statusVerdict is the one rule the rules engine, the triggers and the CLI share', () => {
    assert.deepEqual(statusVerdict({ status: 'open', assignee: null }, 'solved', bob), { ok: true, assignActor: true });
    assert.equal(statusVerdict({ status: 'open', assignee: null }, 'solved', system).ok, false);
  });
});
