import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verpAddress, verpOutboxId, verpParts, verpRecipient } from '../../src/shared/verp.js';

const SECRET = 'test-secret-0123456789';
const RP = 'bounces@acme.test';
const JANE = 'jane@customer.test';

describe('R67: VERP return paths', () => {
  it('R67: the return path names its outbox row and its recipient, and is read back whatever the case', () => {
    const a = verpAddress(RP, 42, JANE, SECRET);
    assert.match(a, /^bounces\+42-[0-9a-f]{32}@acme\.test$/);
    assert.equal(verpOutboxId(a, RP, SECRET), 42);
    assert.equal(verpOutboxId(a.toUpperCase(), RP, SECRET), 42, 'R2: addresses compare lower-cased');
    assert.equal(verpRecipient(verpParts(a, RP, SECRET)!, ['dan@customer.test', JANE], SECRET), JANE);
    assert.equal(verpAddress(RP, 42, 'Jane@Customer.TEST', SECRET), a, 'the recipient is signed lower-cased');
  });

  it('R68: one recipient\'s return path speaks for no other recipient of the same message', () => {
    const dans = verpParts(verpAddress(RP, 42, 'dan@customer.test', SECRET), RP, SECRET)!;
    assert.equal(verpRecipient(dans, [JANE], SECRET), undefined);
  });

  const forged: Array<[string, (a: string) => string]> = [
    ['another row\'s number with this signature', (a) => a.replace('+42-', '+43-')],
    ['an id signature one digit off', (a) => a.replace(/-([0-9a-f])/, (_, c: string) => `-${c === '0' ? '1' : '0'}`)],
    ['the bare return path', () => RP],
    ['another domain', (a) => a.replace('@acme.test', '@evil.test')],
    ['another local part', (a) => a.replace('bounces+', 'support+')],
    ['a short signature', (a) => a.replace(/[0-9a-f]@/, '@')],
    ['only the id signature (16 digits)', (a) => a.replace(/([0-9a-f]{16})[0-9a-f]{16}@/, '$1@')],
    ['row 0', () => verpAddress(RP, 0, JANE, SECRET)],
  ];
  for (const [what, change] of forged) {
    it(`R67: ${what} is not a return path of ours`, () => {
      assert.equal(verpOutboxId(change(verpAddress(RP, 42, JANE, SECRET)), RP, SECRET), undefined);
    });
  }

  it('R67: a return path signed with another key is refused', () => {
    assert.equal(verpOutboxId(verpAddress(RP, 42, JANE, 'other-secret'), RP, SECRET), undefined);
  });
});
