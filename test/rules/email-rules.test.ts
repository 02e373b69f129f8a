import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { run, outcome, dir, type Scenario, type Outcome } from './scenario.js';
import { pickRecipient, isBlocklisted, splitCommands, forwardedSender, carriesPrivateNote } from '../../src/rules/index.js';

type Case = { name: string; s: Scenario; expect: Partial<Record<keyof Outcome | 'reason', unknown>> };

/** Runs a table of scenarios: each expected field must equal the decision's. */
function table(rule: string, title: string, cases: Case[]): void {
  describe(`${rule} ${title}`, () => {
    for (const c of cases) {
      it(c.name, () => {
        const got = outcome(run(c.s)) as Record<string, unknown>;
        for (const [k, v] of Object.entries(c.expect)) assert.deepEqual(got[k], v, `${k} of "${c.name}"`);
      });
    }
  });
}

const NEW = { ticket: null } as const;

table('R1/R2/R4/R12', 'people and new tickets', [
  { name: 'R12: a new message makes a ticket; requester = sender; first comment public', s: { ...NEW }, expect: { action: 'create_ticket', requester: 'carol@customer.test', public: true, rule: 'R12' } },
  { name: 'R4: Reply-To never changes the sender (requester stays From)', s: { ...NEW, replyTo: 'other@customer.test' }, expect: { requester: 'carol@customer.test' } },
  { name: 'R4: with use_reply_to_as_requester the Reply-To is the requester of a new ticket', s: { ...NEW, replyTo: 'other@customer.test', settings: { useReplyToAsRequester: true } }, expect: { requester: 'other@customer.test' } },
  { name: 'R1: a support address in Cc is never made a CC', s: { ...NEW, cc: ['billing@acme.test', 'support+x@acme.test'] }, expect: { ccAdded: [] } },
  { name: 'R2: a configured agent is staff, everyone else an end user', s: { from: 'bob@acme.test', to: ['support@acme.test'] }, expect: { rule: 'R17' } },
]);

describe('R7 recipient of a mail to several support addresses', () => {
  const cases: Array<[string, string[], string[], string[], string]> = [
    ['R7: the first support address in To', ['x@y.test', 'billing@acme.test', 'support@acme.test'], [], ['support@acme.test'], 'billing@acme.test'],
    ['R7: then Cc', ['x@y.test'], ['support@acme.test'], ['billing@acme.test'], 'support@acme.test'],
    ['R7: then the envelope', ['x@y.test'], [], ['billing@acme.test'], 'billing@acme.test'],
    ['R7/R1: a plus-address counts as its support address', ['support+abc@acme.test'], [], [], 'support@acme.test'],
  ];
  for (const [name, to, cc, env, expected] of cases) {
    it(name, () => assert.equal(pickRecipient(dir, { to: to.map((address) => ({ address, name: '' })), cc: cc.map((address) => ({ address, name: '' })) }, env), expected));
  }
});

table('R13/R14/R35-R37', 'status', [
  { name: 'R13: an end-user public reply reopens a solved ticket', s: { ticket: { status: 'solved' } }, expect: { status: 'open' } },
  { name: 'R13/R37: an end-user public reply moves pending to open', s: { ticket: { status: 'pending' } }, expect: { status: 'open' } },
  { name: 'R35: an end-user reply never moves a ticket back to new or changes open', s: { ticket: { status: 'open' } }, expect: { status: null } },
  { name: 'R13: a CC\'s private reply (requester left out) does not reopen', s: { from: 'dan@customer.test', ticket: { status: 'solved' } }, expect: { public: false, status: null } },
  { name: 'R36: an agent public reply to a new ticket opens it', s: { from: 'bob@acme.test', to: ['carol@customer.test'], ticket: { status: 'new' } }, expect: { status: 'open', rule: 'R17' } },
  { name: 'R36: an agent private reply leaves a new ticket new', s: { from: 'bob@acme.test', ticket: { status: 'new' } }, expect: { status: null } },
  { name: 'R36: an agent public reply leaves a pending ticket pending', s: { from: 'bob@acme.test', to: ['carol@customer.test'], ticket: { status: 'pending' } }, expect: { status: null } },
  { name: 'R14: a reply to a closed ticket makes a follow-up with the closed ticket\'s subject, tags and CCs', s: { closed: true, from: 'eve@customer.test' }, expect: { action: 'create_ticket', requester: 'eve@customer.test', public: true } },
]);

describe('R14 follow-up details', () => {
  it('R14: via closed_ticket, follow_up_of, subject, tags and CCs copied', () => {
    const d = run({ closed: true, from: 'eve@customer.test', subject: 'Re: other' });
    assert.equal(d.action, 'create_ticket');
    if (d.action !== 'create_ticket') return;
    assert.deepEqual([d.via, d.followUpOf, d.subject, d.tags, d.inheritedCcs.map((c) => c.address)], ['closed_ticket', 7, 'Printer', ['vip'], ['dan@customer.test']]);
  });
});

table('R15', 'agent forwarding', [
  { name: 'R15: an agent\'s Fwd: makes the original sender the requester, the agent the submitter', s: { ...NEW, from: 'bob@acme.test', subject: 'Fwd: broken', body: 'FYI\n\n---------- Forwarded message ---------\nFrom: Zoe Zed <zoe@customer.test>\nDate: Mon\nSubject: broken\n\nIt is broken.' }, expect: { requester: 'zoe@customer.test', flags: ['forwarded'], public: true } },
  { name: 'R15: Outlook\'s "-----Original Message-----" block with [mailto:]', s: { ...NEW, from: 'alice@acme.test', subject: 'FW: x', body: '-----Original Message-----\nFrom: Zoe Zed [mailto:zoe@customer.test]\nSent: today\n\nhelp' }, expect: { requester: 'zoe@customer.test' } },
  { name: 'R15: Apple Mail\'s "Begin forwarded message:"', s: { ...NEW, from: 'bob@acme.test', subject: 'Fwd: x', body: 'Begin forwarded message:\n\nFrom: "Zoe" <zoe@customer.test>\nSubject: x\n\nhelp' }, expect: { requester: 'zoe@customer.test' } },
  { name: 'R15: a light agent\'s forward does not change the requester', s: { ...NEW, from: 'lea@acme.test', subject: 'Fwd: x', body: '---------- Forwarded message ---------\nFrom: Zoe <zoe@customer.test>\n\nhelp' }, expect: { requester: 'lea@acme.test', flags: [] } },
  { name: 'R15: an end user\'s forward does not change the requester', s: { ...NEW, from: 'carol@customer.test', subject: 'Fwd: x', body: '---------- Forwarded message ---------\nFrom: Zoe <zoe@customer.test>\n\nhelp' }, expect: { requester: 'carol@customer.test' } },
  { name: 'R15: agent_forwarding: false keeps the agent as requester', s: { ...NEW, from: 'bob@acme.test', subject: 'Fwd: x', body: '---------- Forwarded message ---------\nFrom: Zoe <zoe@customer.test>\n\nhelp', settings: { agentForwarding: false } }, expect: { requester: 'bob@acme.test', flags: [] } },
  { name: 'R15: a forward whose original sender is another agent keeps the forwarding agent', s: { ...NEW, from: 'bob@acme.test', subject: 'Fwd: x', body: '---------- Forwarded message ---------\nFrom: Alice <alice@acme.test>\n\nhelp' }, expect: { requester: 'bob@acme.test' } },
]);

table('R16', 'end users: public or private', [
  { name: 'R16: the requester is public', s: {}, expect: { public: true, rule: 'R16' } },
  { name: 'R16: the requester replying to support only is still public', s: { to: ['support@acme.test'] }, expect: { public: true } },
  { name: 'R16: a CC with the requester in Cc (Reply-all) is public', s: { from: 'dan@customer.test', cc: ['carol@customer.test'] }, expect: { public: true, rule: 'R16' } },
  { name: 'R16: a CC with the requester in To is public', s: { from: 'dan@customer.test', to: ['support@acme.test', 'carol@customer.test'] }, expect: { public: true } },
  { name: 'R16: a CC leaving out the requester is a private note, and the other CCs stay', s: { from: 'dan@customer.test', ticket: { ccs: [{ email: 'dan@customer.test', name: 'D' }, { email: 'erin@customer.test', name: 'E' }] } }, expect: { public: false, rule: 'R16', ccRemoved: [] } },
]);

table('R17', 'agents: Reply is private, Reply-all is public', [
  { name: 'R17: an agent replying to the support address only is private', s: { from: 'bob@acme.test' }, expect: { public: false, rule: 'R17' } },
  { name: 'R17: an agent with the requester in To is public', s: { from: 'bob@acme.test', to: ['support@acme.test', 'carol@customer.test'] }, expect: { public: true, rule: 'R17' } },
  { name: 'R17: an agent with only an end-user CC in Cc is public', s: { from: 'alice@acme.test', cc: ['dan@customer.test'] }, expect: { public: true } },
  { name: 'R17/R24: an agent putting a new end user in Cc adds the CC and is public (the mail reached an end user)', s: { from: 'bob@acme.test', cc: ['zed@customer.test'] }, expect: { public: true, rule: 'R17', ccAdded: ['zed@customer.test'] } },
  { name: 'R17/R25: a blocklisted end user in Cc is not a CC and does not make the reply public', s: { from: 'bob@acme.test', cc: ['x@competitor.test'] }, expect: { public: false, ccNotAdded: ['x@competitor.test'] } },
  { name: 'R17/R23: with CCs off, an outsider in Cc does not make the reply public', s: { from: 'bob@acme.test', cc: ['zed@customer.test'], settings: { ccs: { enabled: false } } }, expect: { public: false, ccAdded: [] } },
  { name: 'R17: an agent with only another agent in Cc is private', s: { from: 'alice@acme.test', cc: ['bob@acme.test'] }, expect: { public: false } },
  { name: 'R17: on a ticket with no public comment yet, agent comments stay private', s: { from: 'bob@acme.test', to: ['carol@customer.test'], ticket: { hasPublicComment: false } }, expect: { public: false, rule: 'R17' } },
  { name: 'R17: an agent CC who is also on the ticket as CC follows R17 (agent rules win)', s: { from: 'bob@acme.test', ticket: { ccs: [{ email: 'bob@acme.test', name: 'Bob' }] } }, expect: { public: false, rule: 'R17', ccRemoved: [] } },
  { name: 'R17: an agent who is also the requester follows R17', s: { from: 'bob@acme.test', ticket: { requester: { email: 'bob@acme.test', name: 'Bob' }, ccs: [] } }, expect: { public: false, rule: 'R17' } },
  { name: 'R17: an agent who is also the requester, with an end-user CC on the mail, is public', s: { from: 'bob@acme.test', cc: ['dan@customer.test'], ticket: { requester: { email: 'bob@acme.test', name: 'Bob' } } }, expect: { public: true, rule: 'R17' } },
]);

table('R18', 'followers are private', [
  { name: 'R18: a follower is private even with Reply-all', s: { from: 'alice@acme.test', to: ['carol@customer.test'], ticket: { followers: [{ email: 'alice@acme.test', name: 'A' }] } }, expect: { public: false, rule: 'R18' } },
  { name: 'R18: a follower who is the assignee follows R17', s: { from: 'alice@acme.test', to: ['carol@customer.test'], ticket: { followers: [{ email: 'alice@acme.test', name: 'A' }], assignee: { email: 'alice@acme.test', name: 'A' } } }, expect: { public: true, rule: 'R17' } },
  { name: 'R18: a follower who is the requester follows R17', s: { from: 'alice@acme.test', cc: ['dan@customer.test'], ticket: { followers: [{ email: 'alice@acme.test', name: 'A' }], requester: { email: 'alice@acme.test', name: 'A' } } }, expect: { public: true, rule: 'R17' } },
]);

table('R19', 'light agents are always private', [
  { name: 'R19: a light agent with Reply-all is private', s: { from: 'lea@acme.test', to: ['carol@customer.test'], cc: ['dan@customer.test'] }, expect: { public: false, rule: 'R19' } },
  { name: 'R19/R40: a light agent\'s #public is ignored, kept as text', s: { from: 'lea@acme.test', to: ['carol@customer.test'], body: '#public\nHi all' }, expect: { public: false, rule: 'R19', body: '#public\nHi all' } },
  { name: 'R19/R24: a light agent never adds CCs', s: { from: 'lea@acme.test', cc: ['new@customer.test'] }, expect: { ccAdded: [] } },
]);

table('R20', 'Mail API overrides visibility', [
  { name: 'R20: #note makes an agent\'s Reply-all private', s: { from: 'bob@acme.test', to: ['carol@customer.test'], body: '#note\nInternal only' }, expect: { public: false, rule: 'R20', body: 'Internal only' } },
  { name: 'R20: #public makes an agent\'s Reply public', s: { from: 'bob@acme.test', body: '#public\nHello Carol' }, expect: { public: true, rule: 'R20', body: 'Hello Carol' } },
  { name: 'R20: #public false is a private note', s: { from: 'bob@acme.test', to: ['carol@customer.test'], body: '#public false\nx' }, expect: { public: false, rule: 'R20' } },
  { name: 'R20: #public overrides R18 for a follower', s: { from: 'alice@acme.test', body: '#public\nx', ticket: { followers: [{ email: 'alice@acme.test', name: 'A' }] } }, expect: { public: true, rule: 'R20' } },
  { name: 'R20: #public on a new ticket keeps it public, #note makes it private', s: { ...NEW, from: 'bob@acme.test', body: '#note\nfor us' }, expect: { public: false, rule: 'R20' } },
]);

const NOTE = 'The customer owes us 500 EUR, do not mention it.';
table('R21', 'private stays private (leak guard)', [
  { name: 'R21: an agent Reply-all quoting a private note becomes a private note', s: { from: 'bob@acme.test', to: ['carol@customer.test'], body: 'Hi Carol, fixed.', text: `Hi Carol, fixed.\n\nOn Mon, Alice wrote:\n> ${NOTE}`, privateNotes: [NOTE] }, expect: { public: false, rule: 'R21' } },
  { name: 'R21: even #public cannot publish a private note\'s text', s: { from: 'bob@acme.test', body: `#public\n${NOTE}`, privateNotes: [NOTE] }, expect: { public: false, rule: 'R21' } },
  { name: 'R21: a note wrapped over lines and quoted still matches', s: { from: 'bob@acme.test', to: ['carol@customer.test'], body: 'ok', text: 'ok\n> The customer owes us\n> 500 EUR, do not mention it.', privateNotes: [NOTE] }, expect: { public: false, rule: 'R21' } },
  { name: 'R21: a reply not carrying any note stays public', s: { from: 'bob@acme.test', to: ['carol@customer.test'], body: 'Hi Carol', privateNotes: [NOTE] }, expect: { public: true, rule: 'R17' } },
  { name: 'R21: very short notes ("ok") do not trigger the guard', s: { from: 'bob@acme.test', to: ['carol@customer.test'], body: 'ok then', privateNotes: ['ok'] }, expect: { public: true } },
]);

describe('R22 every comment records why', () => {
  const scenarios: Scenario[] = [{}, { ...NEW }, { from: 'bob@acme.test' }, { from: 'lea@acme.test' }, { from: 'frank@other.test' }, { from: 'dan@customer.test' }];
  for (const [i, s] of scenarios.entries()) {
    it(`R22: scenario ${i} has a visibility rule`, () => {
      const o = outcome(run(s)) as Outcome;
      assert.ok(o.rule && o.rules, 'not a suspension');
      assert.match(o.rule, /^R\d+$/);
      assert.ok(o.rules.includes(o.rule));
    });
  }
});

table('R23', 'CCs can be switched off', [
  { name: 'R23: with ccs.enabled false no CC is added by the requester', s: { cc: ['new@customer.test'], settings: { ccs: { enabled: false } } }, expect: { ccAdded: [] } },
  { name: 'R23: with ccs.enabled false no CC is added by an agent', s: { from: 'bob@acme.test', cc: ['new@customer.test'], settings: { ccs: { enabled: false } } }, expect: { ccAdded: [] } },
  { name: 'R23: with ccs.enabled false no CC is added on a new ticket', s: { ...NEW, cc: ['new@customer.test'], settings: { ccs: { enabled: false } } }, expect: { ccAdded: [] } },
]);

table('R24', 'who may add CCs by email', [
  { name: 'R24: the requester adds addresses in To and Cc', s: { to: ['support@acme.test', 'x@customer.test'], cc: ['y@customer.test', 'dan@customer.test'] }, expect: { ccAdded: ['x@customer.test', 'y@customer.test'] } },
  { name: 'R24: a new ticket\'s Cc become CCs', s: { ...NEW, cc: ['x@customer.test'] }, expect: { ccAdded: ['x@customer.test'] } },
  { name: 'R24: a CC adds CCs', s: { from: 'dan@customer.test', cc: ['carol@customer.test', 'x@customer.test'] }, expect: { ccAdded: ['x@customer.test'] } },
  { name: 'R24: end users cannot add when end_users_can_add is false', s: { cc: ['x@customer.test'], settings: { ccs: { endUsersCanAdd: false } } }, expect: { ccAdded: [] } },
  { name: 'R24: an agent adds CCs even when end users cannot', s: { from: 'bob@acme.test', cc: ['x@customer.test'], settings: { ccs: { endUsersCanAdd: false } } }, expect: { ccAdded: ['x@customer.test'] } },
  { name: 'R24/R33: a third party never adds CCs', s: { from: 'frank@other.test', cc: ['x@customer.test'] }, expect: { ccAdded: [] } },
]);

const fortySeven = Array.from({ length: 47 }, (_, i) => ({ email: `cc${i}@customer.test`, name: '' }));
table('R25', 'who is never added', [
  { name: 'R25: not the requester, existing CCs, the sender, or support addresses', s: { from: 'dan@customer.test', cc: ['carol@customer.test', 'dan@customer.test', 'support@acme.test'] }, expect: { ccAdded: [] } },
  { name: 'R25: not a follower (they stay followers)', s: { cc: ['alice@acme.test'], ticket: { followers: [{ email: 'alice@acme.test', name: 'A' }] } }, expect: { ccAdded: [], followersAdded: [] } },
  { name: 'R25: a blocklisted *@domain address in Cc is not added, and the audit says so', s: { cc: ['x@competitor.test', 'spam@bad.test', 'ok@customer.test'] }, expect: { ccAdded: ['ok@customer.test'], ccNotAdded: ['x@competitor.test', 'spam@bad.test'] } },
  { name: 'R25: the 49th CC is not added; the 48th is', s: { cc: ['c48@customer.test', 'c49@customer.test'], ticket: { ccs: fortySeven } }, expect: { ccAdded: ['c48@customer.test'], ccNotAdded: ['c49@customer.test'] } },
  { name: 'R25: ccs.max is a setting', s: { cc: ['a@customer.test', 'b@customer.test'], settings: { ccs: { max: 2 } } }, expect: { ccAdded: ['a@customer.test'], ccNotAdded: ['b@customer.test'] } },
  { name: 'R25: an address repeated in To and Cc is added once', s: { to: ['x@customer.test'], cc: ['x@customer.test'] }, expect: { ccAdded: ['x@customer.test'] } },
]);

table('R26', 'agent CCs', [
  { name: 'R26: an agent in Cc stays a CC by default', s: { cc: ['alice@acme.test'] }, expect: { ccAdded: ['alice@acme.test'], followersAdded: [] } },
  { name: 'R26: with agent_ccs_become_followers the agent becomes a follower', s: { cc: ['alice@acme.test', 'x@customer.test'], settings: { ccs: { agentCcsBecomeFollowers: true } } }, expect: { ccAdded: ['x@customer.test'], followersAdded: ['alice@acme.test'] } },
]);

table('R27', 'removing CCs by email', [
  { name: 'R27: the requester leaving out a CC removes it', s: { to: ['support@acme.test'] }, expect: { ccRemoved: ['dan@customer.test'] } },
  { name: 'R27: the requester keeping the CC keeps it', s: { cc: ['dan@customer.test'] }, expect: { ccRemoved: [] } },
  { name: 'R27: a CC with the requester present removes another CC left out', s: { from: 'dan@customer.test', cc: ['carol@customer.test'], ticket: { ccs: [{ email: 'dan@customer.test', name: 'D' }, { email: 'erin@customer.test', name: 'E' }] } }, expect: { ccRemoved: ['erin@customer.test'] } },
  { name: 'R27: a CC whose reply leaves out the requester cannot remove another CC', s: { from: 'dan@customer.test', ticket: { ccs: [{ email: 'dan@customer.test', name: 'D' }, { email: 'erin@customer.test', name: 'E' }] } }, expect: { ccRemoved: [] } },
  { name: 'R27: a non-participant cannot remove anyone', s: { from: 'frank@other.test', cc: ['carol@customer.test'] }, expect: { ccRemoved: [] } },
  { name: 'R27: an agent\'s message never removes CCs', s: { from: 'bob@acme.test', to: ['carol@customer.test'] }, expect: { ccRemoved: [] } },
  { name: 'R27: a light agent\'s message never removes CCs', s: { from: 'lea@acme.test' }, expect: { ccRemoved: [] } },
]);

table('R30', 'followers never by email', [
  { name: 'R30: an agent in Cc is never made a follower by default', s: { from: 'bob@acme.test', cc: ['alice@acme.test'] }, expect: { followersAdded: [] } },
  { name: 'R30: an end user in Cc never becomes a follower', s: { cc: ['x@customer.test'], settings: { ccs: { agentCcsBecomeFollowers: true } } }, expect: { followersAdded: [] } },
]);

table('R32-R34', 'third parties', [
  { name: 'R33: a non-participant end user is a private note flagged third_party, with a ticket warning', s: { from: 'frank@other.test' }, expect: { public: false, rule: 'R33', flags: ['third_party'], warnings: ['third_party_reply'] } },
  { name: 'R33: third_party_replies: public makes it public but still flagged', s: { from: 'frank@other.test', settings: { thirdPartyReplies: 'public' } }, expect: { public: true, rule: 'R33', flags: ['third_party'] } },
  { name: 'R33: a third party who puts the requester in Cc is still a third party, not added as CC', s: { from: 'frank@other.test', cc: ['carol@customer.test'] }, expect: { public: false, rule: 'R33', ccAdded: [] } },
  { name: 'R33: the warning is not repeated when the ticket already has it', s: { from: 'frank@other.test', ticket: { warnings: ['third_party_reply'] } }, expect: { warnings: [] } },
  { name: 'R34: a third party never reopens a solved ticket', s: { from: 'frank@other.test', ticket: { status: 'solved' }, settings: { thirdPartyReplies: 'public' } }, expect: { status: null } },
  { name: 'R34: a third party\'s commands run nothing and stay text', s: { from: 'frank@other.test', body: '#status solved\nhi' }, expect: { status: null, body: '#status solved\nhi' } },
  { name: 'R32: the assignee (an agent) is a participant, not a third party', s: { from: 'alice@acme.test', ticket: { assignee: { email: 'alice@acme.test', name: 'A' } } }, expect: { flags: [] } },
]);

table('R38', 'Mail API commands', [
  { name: 'R38: #status solved with #assignee me', s: { from: 'bob@acme.test', body: '#status solved\n#assignee me\n\nDone, closing.' }, expect: { status: 'solved', assignee: 'bob@acme.test', body: 'Done, closing.' } },
  { name: 'R38/R35: #status solved on an unassigned ticket assigns the agent', s: { from: 'alice@acme.test', body: '#status solved\nbye' }, expect: { status: 'solved', assignee: 'alice@acme.test' } },
  { name: 'R38: #assignee on a new ticket opens it (R35)', s: { from: 'bob@acme.test', ticket: { status: 'new' }, body: '#assignee alice@acme.test\nplease take it' }, expect: { assignee: 'alice@acme.test', status: 'open' } },
  { name: 'R38: #group, #tags and #requester', s: { from: 'bob@acme.test', body: '#group billing\n#tags refund urgent\n#requester zoe@customer.test\nmoving' }, expect: { requester: 'zoe@customer.test', body: 'moving' } },
  { name: 'R38: commands on a new ticket (forwarded mail)', s: { ...NEW, from: 'bob@acme.test', subject: 'Fwd: x', body: '#assignee me\n#status pending\n---------- Forwarded message ---------\nFrom: Zoe <zoe@customer.test>\n\nhelp' }, expect: { requester: 'zoe@customer.test', assignee: 'bob@acme.test', status: 'pending' } },
  { name: 'R38: commands only at the top: a later #line is text', s: { from: 'bob@acme.test', body: 'Hello\n#status solved' }, expect: { status: null, body: 'Hello\n#status solved' } },
  { name: 'R38: an end user\'s commands are plain text', s: { body: '#status solved\nthanks' }, expect: { status: null, body: '#status solved\nthanks' } },
]);

table('R39', 'bad commands', [
  { name: 'R39: an unknown command changes nothing, stays as text, the rest still applies', s: { from: 'bob@acme.test', body: '#priority high\n#status pending\nok' }, expect: { status: 'pending', commandErrors: ['#priority high'], body: '#priority high\nok' } },
  { name: 'R39: a bad value (#status closed) changes nothing', s: { from: 'bob@acme.test', body: '#status closed\nok' }, expect: { status: null, commandErrors: ['#status closed'] } },
  { name: 'R39: #assignee of an end user is refused', s: { from: 'bob@acme.test', body: '#assignee carol@customer.test\nok' }, expect: { assignee: null, commandErrors: ['#assignee carol@customer.test'] } },
  { name: 'R39: #group that does not exist is refused', s: { from: 'bob@acme.test', body: '#group sales\nok' }, expect: { commandErrors: ['#group sales'] } },
]);

table('R40', 'light agents and the Mail API', [
  { name: 'R40: a light agent\'s commands are ignored and kept as text', s: { from: 'lea@acme.test', body: '#status solved\n#assignee me\nnote' }, expect: { status: null, assignee: null, public: false, body: '#status solved\n#assignee me\nnote' } },
]);

table('R44', 'agent powers need authentication', [
  { name: 'R44: a message claiming an agent From that is not verified is suspended (unverified_agent)', s: { from: 'bob@acme.test', body: '#status solved\nx', verified: false }, expect: { action: 'suspend', reason: 'unverified_agent' } },
  { name: 'R44: an unverified end user is processed normally (no agent powers at stake)', s: { verified: false }, expect: { action: 'add_comment' } },
]);

describe('rule helpers', () => {
  it('R25: blocklist matches exact addresses and *@domain, not subdomains', () => {
    assert.equal(isBlocklisted('x@competitor.test', ['*@competitor.test']), true);
    assert.equal(isBlocklisted('x@sub.competitor.test', ['*@competitor.test']), false);
    assert.equal(isBlocklisted('spam@x.test', ['spam@x.test']), true);
  });
  it('R38: splitCommands takes only the leading command lines', () => {
    assert.deepEqual(splitCommands('\n#note\n#tags a b\n\nBody #not\n#x').commands.map((c) => c.command), ['note', 'tags']);
    assert.equal(splitCommands('#note\n\nBody').rest, 'Body');
  });
  it('R15: forwardedSender reads name and address', () => {
    assert.deepEqual(forwardedSender('---------- Forwarded message ---------\nFrom: Zoe Zed <Zoe@Customer.test>\n'), { address: 'zoe@customer.test', name: 'Zoe Zed' });
    assert.equal(forwardedSender('no forward here'), undefined);
  });
  it('R21: carriesPrivateNote ignores quote markers, case and wrapping', () => {
    assert.equal(carriesPrivateNote('> THE customer owes\n> us money', ['the customer owes us money']), true);
    assert.equal(carriesPrivateNote('nothing', ['the customer owes us money']), false);
  });
});
