import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchThread, makeReplyToken, verifyReplyToken, tokenFromAddress, type ThreadInput } from '../../src/thread/index.js';
import type { TicketStatus } from '../../src/shared/domain.js';

const statuses: Record<number, TicketStatus> = { 1: 'open', 2: 'solved', 3: 'closed', 4: 'new' };
const lookup = {
  ticketByMessageId: new Map([['<a@x>', 1], ['<b@x>', 2], ['<c@x>', 3], ['<d@x>', 4]]),
  statusOf: (id: number) => statuses[id],
};
const none: ThreadInput = { inReplyTo: [], references: [], addressTokenTickets: [], bodyTokenTickets: [] };

describe('matchThread (R10-R14)', () => {
  const cases: Array<{ name: string; input: Partial<ThreadInput>; expected: ReturnType<typeof matchThread> }> = [
    { name: 'R12: nothing known makes a new ticket', input: {}, expected: { kind: 'new', rule: 'R12' } },
    { name: 'R12: unknown reply headers make a new ticket', input: { inReplyTo: ['<zz@x>'], references: ['<yy@x>'] }, expected: { kind: 'new', rule: 'R12' } },
    { name: 'R10: In-Reply-To matches', input: { inReplyTo: ['<a@x>'] }, expected: { kind: 'reply', ticketId: 1, rule: 'R10', by: '<a@x>' } },
    { name: 'R10: References alone match', input: { references: ['<zz@x>', '<a@x>'] }, expected: { kind: 'reply', ticketId: 1, rule: 'R10', by: '<a@x>' } },
    { name: 'R10: In-Reply-To wins over References', input: { inReplyTo: ['<d@x>'], references: ['<a@x>'] }, expected: { kind: 'reply', ticketId: 4, rule: 'R10', by: '<d@x>' } },
    { name: 'R10: the newest reference (last) wins', input: { references: ['<a@x>', '<d@x>'] }, expected: { kind: 'reply', ticketId: 4, rule: 'R10', by: '<d@x>' } },
    { name: 'R10: reply headers win over a token', input: { inReplyTo: ['<a@x>'], addressTokenTickets: [4] }, expected: { kind: 'reply', ticketId: 1, rule: 'R10', by: '<a@x>' } },
    { name: 'R11: an address token matches when headers do not', input: { inReplyTo: ['<zz@x>'], addressTokenTickets: [4] }, expected: { kind: 'reply', ticketId: 4, rule: 'R11', by: 'token for ticket 4' } },
    { name: 'R11: a body token matches', input: { bodyTokenTickets: [1] }, expected: { kind: 'reply', ticketId: 1, rule: 'R11', by: 'token for ticket 1' } },
    { name: 'R11: an address token wins over a body token', input: { addressTokenTickets: [4], bodyTokenTickets: [1] }, expected: { kind: 'reply', ticketId: 4, rule: 'R11', by: 'token for ticket 4' } },
    { name: 'R11: a token for a ticket that does not exist is ignored', input: { bodyTokenTickets: [99] }, expected: { kind: 'new', rule: 'R12' } },
    { name: 'R13: a solved ticket is still a reply (the rules reopen it)', input: { inReplyTo: ['<b@x>'] }, expected: { kind: 'reply', ticketId: 2, rule: 'R10', by: '<b@x>' } },
    { name: 'R14: a closed ticket by header gives a follow-up', input: { inReplyTo: ['<c@x>'] }, expected: { kind: 'follow_up', closedTicketId: 3, rule: 'R14', matchedBy: 'R10' } },
    { name: 'R14: a closed ticket by token gives a follow-up', input: { bodyTokenTickets: [3] }, expected: { kind: 'follow_up', closedTicketId: 3, rule: 'R14', matchedBy: 'R11' } },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(matchThread({ ...none, ...c.input }, lookup), c.expected));
  }
});

describe('reply tokens (R11)', () => {
  const secret = 's3cret';
  it('R11: a token verifies to its ticket id', () => {
    assert.equal(verifyReplyToken(makeReplyToken(42, secret), secret), 42);
  });
  it('R11: survives lower-casing and upper-casing of the address', () => {
    assert.equal(verifyReplyToken(makeReplyToken(42, secret).toUpperCase(), secret), 42);
  });
  const bad: Array<[string, string]> = [
    ['another secret', makeReplyToken(42, 'other')],
    ['a changed ticket id', makeReplyToken(42, secret).replace(/^42/, '43')],
    ['a bare id', '42'],
    ['a truncated mac', makeReplyToken(42, secret).slice(0, -1)],
    ['garbage', 'abc-def'],
    ['id zero', `0-${'0'.repeat(16)}`],
  ];
  for (const [what, token] of bad) {
    it(`R11: rejects ${what}`, () => assert.equal(verifyReplyToken(token, secret), undefined));
  }
  it('R11: finds the token in a plus-address', () => {
    assert.equal(tokenFromAddress('support+12-abc@acme.test'), '12-abc');
    assert.equal(tokenFromAddress('support@acme.test'), undefined);
  });
});
