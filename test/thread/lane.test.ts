import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { laneKey, laneOf, type LaneInput } from '../../src/thread/lane.js';

// R10 with several processing workers: the lane that keeps one thread's mail on one worker.
const base: LaneInput = { inReplyTo: [], references: [], messageId: '<m@x>', addressTokenTickets: [], fallback: 'sha' };
const known = new Map([['<n1@acme>', 7], ['<n2@acme>', 7], ['<other@acme>', 9]]);

describe('R10 processing lanes (thread/lane.ts)', () => {
  const cases: Array<[string, Partial<LaneInput>, string]> = [
    ['a new message is its own thread root', {}, 'root:<m@x>'],
    ['a message without Message-ID falls back to its digest', { messageId: null }, 'root:sha'],
    ['a reply to a known notification lanes with its ticket', { inReplyTo: ['<n1@acme>'] }, 'ticket:7'],
    ['two replies to two notifications of one ticket share the lane', { inReplyTo: ['<n2@acme>'], references: ['<root@c>', '<n2@acme>'] }, 'ticket:7'],
    ['In-Reply-To before References, References newest first (as matchThread)', { inReplyTo: ['<unknown@c>'], references: ['<other@acme>', '<n1@acme>'] }, 'ticket:7'],
    ['a plus-address token names the ticket when no header does', { addressTokenTickets: [12] }, 'ticket:12'],
    ['a known header beats the token (as matchThread)', { inReplyTo: ['<n1@acme>'], addressTokenTickets: [12] }, 'ticket:7'],
    ['a reply-all to an original not yet processed lanes with the original', { inReplyTo: ['<m0@c>'], references: ['<m0@c>'] }, 'root:<m0@c>'],
    ['a thread started elsewhere keeps its first References id as root', { inReplyTo: ['<p@c>'], references: ['<r0@c>', '<p@c>'] }, 'root:<r0@c>'],
  ];
  for (const [name, input, key] of cases) {
    it(`R10: ${name}`, () => assert.equal(laneKey({ ...base, ...input }, known), key));
  }
  it('R10: the lane is a stable non-negative 31-bit number that spreads keys over workers', () => {
    assert.equal(laneOf('ticket:7'), laneOf('ticket:7'));
    const lanes = Array.from({ length: 1000 }, (_, i) => laneOf(`root:<m${i}@x>`));
    assert.ok(lanes.every((l) => Number.isInteger(l) && l >= 0 && l < 2 ** 31));
    const perWorker = [0, 0, 0, 0];
    for (const l of lanes) perWorker[l % 4]!++;
    assert.ok(perWorker.every((n) => n > 180), `spread over 4 workers: ${perWorker.join(', ')}`);
  });
});
