import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verpAddress, verpOutboxId } from '../../src/shared/verp.js';

const SECRET = 'test-secret-0123456789';
const RP = 'bounces@acme.test';

describe('R67: VERP return paths', () => {
  it('R67: the return path names its outbox row and is read back, whatever the case', () => {
    const a = verpAddress(RP, 42, SECRET);
    assert.match(a, /^bounces\+42-[0-9a-f]{16}@acme\.test$/);
    assert.equal(verpOutboxId(a, RP, SECRET), 42);
    assert.equal(verpOutboxId(a.toUpperCase(), RP, SECRET), 42, 'R2: addresses compare lower-cased');
  });

  const forged: Array<[string, (a: string) => string]> = [
    ['another row\'s number with this MAC', (a) => a.replace('+42-', '+43-')],
    ['a MAC one digit off', (a) => a.replace(/-([0-9a-f])/, (_, c: string) => `-${c === '0' ? '1' : '0'}`)],
    ['the bare return path', () => RP],
    ['another domain', (a) => a.replace('@acme.test', '@evil.test')],
    ['another local part', (a) => a.replace('bounces+', 'support+')],
    ['a short MAC', (a) => a.replace(/[0-9a-f]@/, '@')],
    ['row 0', () => verpAddress(RP, 0, SECRET)],
  ];
  for (const [what, change] of forged) {
    it(`R67: ${what} is not a return path of ours`, () => {
      assert.equal(verpOutboxId(change(verpAddress(RP, 42, SECRET)), RP, SECRET), undefined);
    });
  }

  it('R67: a return path signed with another key is refused', () => {
    assert.equal(verpOutboxId(verpAddress(RP, 42, 'other-secret'), RP, SECRET), undefined);
  });
});
