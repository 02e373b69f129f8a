import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { runTriggers, conditionHolds, resolveRecipients, nullifies, headerSafe, DEFAULT_TRIGGERS, type Trigger, type UpdateEvent, type Condition, type StaffLookup } from '../../src/triggers/index.js';
import { composeNotification } from '../../src/outbound/index.js';
import { parseConfigText, ConfigError } from '../../src/config/index.js';
import type { TicketState } from '../../src/shared/domain.js';

const T0 = '2026-11-20T00:00:00.000Z';
const ticket = (over: Partial<TicketState> = {}): TicketState => ({
  id: 1, subject: 'Printer', status: 'open', requester: { email: 'carol@customer.test', name: 'Carol' }, assignee: null, group: 'Support',
  recipient: 'support@acme.test', via: 'smtp', ccs: [{ email: 'dan@customer.test', name: 'Dan' }], followers: [], tags: [], warnings: [],
  followUpOf: null, hasPublicComment: true, createdAt: T0, updatedAt: T0, statusChangedAt: T0, solvedAt: null, assignedAt: null, ...over,
});
const event = (over: Partial<UpdateEvent> = {}): UpdateEvent => ({
  kind: 'updated', channel: 'email', currentUser: { email: 'carol@customer.test', name: 'Carol', role: 'end_user' },
  comment: { id: 9, public: true, body: 'hi' }, statusFrom: null, statusChanged: false, assigneeChanged: false, groupChanged: false,
  inboundParticipants: [], inboundMessageId: null, ...over,
});
const staff: StaffLookup = {
  roleOf: (e: string) => (['bob@acme.test', 'alice@acme.test'].includes(e) ? 'agent' : e === 'lea@acme.test' ? 'light_agent' : 'end_user'),
  nameOf: () => null,
  isSupportAddress: (e: string) => e.startsWith('support@'),
  groups: ['Support', 'Billing'],
  ccs: { max: 48, blocklist: [] },
};
const now = new Date('2026-11-23T00:00:00Z');
const c = (field: Condition['field'], value: Condition['value'], op: Condition['op'] = 'is'): Condition => ({ field, op, value });
const trig = (id: string, all: Condition[], actions: Trigger['actions'], active = true): Trigger => ({ id, name: id, active, conditions: { all, any: [] }, actions });

describe('R47 trigger cycle', () => {
  it('R47: runs in order; a change lets earlier triggers fire in the next pass; each fires once', async () => {
    const triggers = [
      trig('b', [c('tags', 'y', 'includes')], [{ add_tags: ['z'] }]),
      trig('a', [c('comment', 'public')], [{ add_tags: ['y'] }]),
      trig('loop', [c('comment', 'public')], [{ remove_tags: ['y'] }, { add_tags: ['y', 'w'] }]),
    ];
    const plan = runTriggers(triggers, ticket(), event(), staff, now);
    assert.deepEqual(plan.fired, ['a', 'loop', 'b']);
    assert.deepEqual(plan.ticket.tags.sort(), ['w', 'y', 'z']);
  });
  it('R47: inactive triggers never fire', async () => {
    assert.deepEqual(runTriggers([trig('x', [], [{ add_tags: ['q'] }], false)], ticket(), event(), staff, now).fired, []);
  });
  it('R47: a later trigger sees an earlier trigger\'s status change (status_changed_to)', async () => {
    const plan = runTriggers([
      trig('solve', [c('tags', 'done', 'includes')], [{ set_status: 'solved' }]),
      trig('notice', [c('status_changed_to', 'solved')], [{ add_tags: ['noticed'] }]),
    ], ticket({ tags: ['done'], assignee: { email: 'bob@acme.test', name: 'Bob' } }), event(), staff, now);
    assert.deepEqual(plan.fired, ['solve', 'notice']);
  });
  it('R35: a trigger cannot solve an unassigned ticket or close an open one; the refusal is recorded', async () => {
    const plan = runTriggers([trig('s', [], [{ set_status: 'solved' }]), trig('cl', [], [{ set_status: 'closed' }])], ticket(), event(), staff, now);
    assert.equal(plan.changes[0]!.skipped, 'solving needs an assignee (R35)');
    assert.match(plan.changes[1]!.skipped!, /^only a solved ticket can be closed .*\(R35\)$/);
    assert.equal(plan.ticket.status, 'open');
  });
  it('R49: set_assignee current_user on a new ticket opens it; add_follower refuses end users (R30)', async () => {
    const plan = runTriggers([trig('as', [], [{ set_assignee: 'current_user' }, { add_follower: 'carol@customer.test' }])], ticket({ status: 'new' }),
      event({ currentUser: { email: 'bob@acme.test', name: 'Bob', role: 'agent' } }), staff, now);
    assert.equal(plan.ticket.assignee?.email, 'bob@acme.test');
    assert.equal(plan.ticket.status, 'open');
    assert.match(plan.changes[1]!.skipped!, /R30/);
  });
});

describe('R48 conditions', () => {
  const cases: Array<[string, Condition, Partial<TicketState>, Partial<UpdateEvent> | null, boolean]> = [
    ['status is', c('status', 'open'), {}, {}, true],
    ['status is_not', c('status', 'open', 'is_not'), {}, {}, false],
    ['status_changed_from solved (reopened)', c('status_changed_from', 'solved'), {}, { statusChanged: true, statusFrom: 'solved' }, true],
    ['status_changed_from is_not solved when nothing changed', c('status_changed_from', 'solved', 'is_not'), {}, {}, true],
    ['status_changed_to solved', c('status_changed_to', 'solved'), { status: 'solved' }, { statusChanged: true, statusFrom: 'open' }, true],
    ['assignee present', c('assignee', 'present'), { assignee: { email: 'bob@acme.test', name: null } }, {}, true],
    ['assignee is_not current_user', c('assignee', 'current_user', 'is_not'), { assignee: { email: 'bob@acme.test', name: null } }, {}, true],
    ['assignee is_not requester', c('assignee', 'requester', 'is_not'), { assignee: { email: 'carol@customer.test', name: null } }, {}, false],
    ['group present', c('group', 'present'), {}, {}, true],
    ['tags includes', c('tags', 'vip', 'includes'), { tags: ['vip'] }, {}, true],
    ['tags not_includes', c('tags', 'vip', 'not_includes'), { tags: ['vip'] }, {}, false],
    ['via', c('via', 'smtp'), {}, {}, true],
    ['recipient', c('recipient', 'support@acme.test'), {}, {}, true],
    ['subject_contains (case-insensitive)', c('subject_contains', 'PRINT', 'includes'), {}, {}, true],
    ['is created', c('is', 'created'), {}, { kind: 'created' }, true],
    ['comment private', c('comment', 'private'), {}, { comment: { id: 1, public: false, body: '' } }, true],
    ['comment absent', c('comment', 'absent'), {}, { comment: null }, true],
    ['current_user end_user', c('current_user', 'end_user'), {}, {}, true],
    ['current_user agent', c('current_user', 'agent'), {}, {}, false],
    ['current_user requester', c('current_user', 'requester'), {}, {}, true],
    ['requester_domain', c('requester_domain', 'customer.test'), {}, {}, true],
    ['hours_since_created gte 72', c('hours_since_created', 72, 'gte'), {}, null, true],
    ['hours_since_solved gte 1 with no solved time', c('hours_since_solved', 1, 'gte'), {}, null, false],
    ['hours_since_updated lt 1', c('hours_since_updated', 1, 'lt'), {}, null, false],
  ];
  for (const [name, cond, t, u, expected] of cases) {
    it(`R48: ${name}`, () => assert.equal(conditionHolds(cond, ticket(t), u === null ? null : event(u), now), expected));
  }
});

describe('R50/R29/R31 recipients', () => {
  const ctx = {
    ccsEnabled: true, isSupportAddress: (e: string) => e.endsWith('@acme.test') && e.startsWith('support'), isStaff: (e: string) => staff.roleOf(e) !== 'end_user', isRobot: (e: string) => e.startsWith('noreply@'),
    agents: [{ email: 'bob@acme.test', role: 'agent', groups: ['Support'] }, { email: 'alice@acme.test', role: 'admin', groups: ['Billing'] }, { email: 'lea@acme.test', role: 'light_agent', groups: ['Support'] }],
  };
  it('R29: requester in To, CCs in Cc, one message', async () => {
    const [e] = resolveRecipients('requester_and_ccs', ticket(), event({ currentUser: { email: 'bob@acme.test', name: null, role: 'agent' } }), ctx);
    assert.deepEqual([e!.to.map((p) => p.email), e!.cc.map((p) => p.email)], [['carol@customer.test'], ['dan@customer.test']]);
  });
  it('R50: not the author; not those on the inbound To/Cc', async () => {
    const list = resolveRecipients('requester_and_ccs', ticket(), event({ inboundParticipants: ['dan@customer.test'] }), ctx);
    assert.deepEqual(list, []);
  });
  it('R50: with only CCs left, the first CC is in To', async () => {
    const [e] = resolveRecipients('requester_and_ccs', ticket({ ccs: [{ email: 'dan@customer.test', name: null }, { email: 'erin@customer.test', name: null }] }), event(), ctx);
    assert.deepEqual([e!.to.map((p) => p.email), e!.cc.map((p) => p.email)], [['dan@customer.test'], ['erin@customer.test']]);
  });
  it('R21: requester_and_ccs never sends a private comment', async () => {
    assert.deepEqual(resolveRecipients('requester_and_ccs', ticket(), event({ currentUser: null, comment: { id: 1, public: false, body: 'x' } }), ctx), []);
  });
  it('R23: with CCs off, only the requester', async () => {
    const [e] = resolveRecipients('requester_and_ccs', ticket(), event({ currentUser: null }), { ...ctx, ccsEnabled: false });
    assert.deepEqual(e!.cc, []);
  });
  it('R31: followers one message each; R49 group: its agents, not light agents', async () => {
    const t = ticket({ followers: [{ email: 'alice@acme.test', name: null }, { email: 'lea@acme.test', name: null }] });
    assert.deepEqual(resolveRecipients('followers', t, event(), ctx).map((e) => e.to.map((p) => p.email)), [['alice@acme.test'], ['lea@acme.test']]);
    assert.deepEqual(resolveRecipients('group', t, event(), ctx).map((e) => e.to[0]!.email), ['bob@acme.test']);
  });
  it('R1: a support address is never written to', async () => {
    assert.deepEqual(resolveRecipients('support@acme.test', ticket(), event(), ctx), []);
  });
});

describe('R54-R58 composing', () => {
  it('R54: header values lose CR, LF and control characters', async () => {
    assert.equal(headerSafe('Hello\r\nBcc: evil@evil.test\u0000x'), 'Hello Bcc: evil@evil.test x');
  });
  it('R55-R58: From, Reply-To token, Message-ID, threading, reply line, footer, Auto-Submitted', async () => {
    const m = composeNotification({
      ticketId: 12, support: { address: 'support@acme.test', name: 'Acme' }, token: '12-00112233445566ff', to: [{ email: 'c@x.test', name: 'C\r\nBcc: e@e.test' }], cc: [],
      subject: 'Re\nX', body: 'Body', replyLine: '##- reply above -##', inReplyTo: '<a@x>', references: ['<a@x>'], autoSubmitted: 'auto-generated', unique: 'u1',
    });
    assert.equal(m.replyTo, 'support+12-00112233445566ff@acme.test');
    assert.equal(m.messageId, '<dg.12.u1@acme.test>');
    assert.equal(m.subject, 'Re X');
    assert.equal(m.to[0]!.name, 'C Bcc: e@e.test');
    assert.ok(m.body.startsWith('##- reply above -##\n'));
    assert.ok(m.body.trimEnd().endsWith('[DG-12-00112233445566ff]'));
    assert.deepEqual(m.headers, { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All', 'X-Deskgate-Ticket': '12' });
  });
});

describe('R51/R52/R53 rule sets in the config', () => {
  const base = 'support_addresses: [{ address: support@acme.test }]\ngroups: [{ name: Support }]\nagents: [{ email: bob@acme.test }]\n';
  const problems = (yaml: string) => {
    try { parseConfigText(base + yaml, '/x/c.yaml', {}); } catch (e) { return (e as ConfigError).problems; }
    return [];
  };
  it('R51: all eleven default triggers are shipped, "notify all agents" inactive', async () => {
    assert.equal(DEFAULT_TRIGGERS.length, 11);
    assert.equal(DEFAULT_TRIGGERS.find((t) => t.id === 'notify-all-agents-received')!.active, false);
    assert.equal(DEFAULT_TRIGGERS.find((t) => t.id === 'auto-assign-first-responder')!.active, false);
  });
  it('R53: a template that does not parse is a config error with its key path and line', async () => {
    const p = problems('triggers:\n  - id: t1\n    name: T\n    conditions: { all: [{ field: is, value: created }] }\n    actions:\n      - email_user: requester\n        subject: "Hi {{ ticket.id"\n        body: ok\n');
    assert.equal(p[0]!.path, 'triggers[0].actions[0].subject');
    assert.equal(p[0]!.line, 10);
    assert.match(p[0]!.message, /template error/);
  });
  it('R53: the date filter names months and days in English whatever the server\'s locale', () => {
    // A process of its own: the default locale is read from LANG when a process starts.
    const script = `const t = await import(${JSON.stringify(new URL('../../src/triggers/templates.ts', import.meta.url).href)});
      console.log(JSON.stringify([new Intl.DateTimeFormat().resolvedOptions().locale, t.renderTemplate(t.compileTemplate('{{ d | date: "%A %d %B" }}'), { d: '2026-11-23T10:00:00Z' })]));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8' }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [serverLocale, rendered] = JSON.parse(r.stdout) as [string, string];
    assert.equal(serverLocale, 'de-DE', 'the child runs in a German locale');
    assert.equal(rendered, 'Monday 23 November');
  });
  it('R52: an automation that does not nullify its conditions is refused', async () => {
    const p = problems('automations:\n  - id: a1\n    name: A\n    conditions: { all: [{ field: status, value: pending }, { field: hours_since_updated, op: gte, value: 24 }] }\n    actions:\n      - { add_tags: [x] }\n');
    assert.equal(p[0]!.path, 'automations[0].actions');
    assert.match(p[0]!.message, /R52/);
  });
  it('R52: nullifies() recognises status changes and tag guards', async () => {
    assert.equal(nullifies([c('status', 'solved')], [{ set_status: 'closed' }]), true);
    assert.equal(nullifies([c('tags', 'r', 'not_includes')], [{ add_tags: ['r'] }]), true);
    assert.equal(nullifies([c('status', 'pending')], [{ add_tags: ['r'] }]), false);
  });
  it('patching a default by id, and an unknown id is an error', async () => {
    const c1 = parseConfigText(base + 'triggers: { defaults: true, items: [{ id: notify-all-agents-received, active: true }] }\n', '/x/c.yaml', {});
    assert.equal(c1.triggers && !Array.isArray(c1.triggers), true);
    const p = problems('triggers: { defaults: true, items: [{ id: no-such-trigger, active: false }] }\n');
    assert.match(p[0]!.message, /no shipped trigger has id no-such-trigger/);
  });
  it('unknown groups and non-agent assignees in actions are errors', async () => {
    const p = problems('triggers:\n  - { id: t, name: T, conditions: { all: [] }, actions: [{ set_group: Nope }, { set_assignee: carol@customer.test }] }\n');
    assert.deepEqual(p.map((x) => x.path), ['triggers[0].actions[0].set_group', 'triggers[0].actions[1].set_assignee']);
  });
});

describe('docs/notifications.md', () => {
  it('lists every shipped trigger and automation by id and name', async () => {
    const { readFileSync } = await import('node:fs');
    const { DEFAULT_AUTOMATIONS } = await import('../../src/triggers/index.js');
    const doc = readFileSync(new URL('../../docs/notifications.md', import.meta.url), 'utf8');
    for (const r of [...DEFAULT_TRIGGERS, ...DEFAULT_AUTOMATIONS]) {
      assert.ok(doc.includes(`\`${r.id}\``), r.id);
      assert.ok(doc.includes(r.name), r.name);
    }
  });
});
