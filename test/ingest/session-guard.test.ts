import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DataBudget, JunkCounter, pickVictim } from '../../src/ingest/session-guard.js';

describe('issue 13.4: session guard decisions (pure)', () => {
  it('DATA budget: spent by time, earned back by bytes at data_min_rate, never above data_timeout', () => {
    const b = new DataBudget({ dataTimeoutMs: 1000, dataMinRate: 500 }, 0);
    assert.equal(b.update(0, 600), true); // 400 ms left
    assert.equal(b.update(500, 1600), true); // 500 bytes earn 1 s back: 400 ms left
    assert.equal(b.update(500, 2000), false); // nothing more: spent
    const fast = new DataBudget({ dataTimeoutMs: 1000, dataMinRate: 500 }, 0);
    assert.equal(fast.update(1_000_000, 100), true); // capped at 1 s, not 2000 s
    assert.equal(fast.update(1_000_000, 1100), false);
  });

  it('data_min_rate 0: data_timeout is a hard limit however fast the bytes come', () => {
    const b = new DataBudget({ dataTimeoutMs: 1000, dataMinRate: 0 }, 0);
    assert.equal(b.update(10_000_000, 999), true);
    assert.equal(b.update(20_000_000, 1000), false);
  });

  it('junk: NOOP, RSET, VRFY, HELP, ETRN, EXPN and unknown commands count, MAIL/RCPT/EHLO do not; a delivery resets', () => {
    const j = new JunkCounter(3);
    for (const [cmd, known] of [['NOOP', true], ['MAIL', true], ['EHLO', true], ['RCPT', true], ['RSET', true], ['BOGUS', false]] as const) {
      assert.equal(j.exceeded(cmd, known), false, cmd);
    }
    assert.equal(j.exceeded('VRFY', true), true);
    j.delivered();
    assert.equal(j.exceeded('HELP', true), false);
  });

  it('eviction: the newest idle session of the heaviest address, only with at least two more than the newcomer; never an exempt one', () => {
    const s = (remoteAddress: string, idle = true) => ({ remoteAddress, idle });
    const sessions = [s('a'), s('a'), s('b'), s('a', false), s('a'), s('a', false)];
    assert.equal(pickVictim(sessions, 'c', () => false), sessions[4]);
    assert.equal(pickVictim(sessions, 'a', () => false), undefined, 'never swapped for itself');
    assert.equal(pickVictim([s('a'), s('a'), s('b')], 'b', () => false), undefined, 'a holds 2, b 1: no better off');
    assert.equal(pickVictim([s('a'), s('b'), s('c')], 'd', () => false), undefined);
    assert.equal(pickVictim(sessions, 'c', (ip) => ip === 'a'), undefined);
    assert.equal(pickVictim([s('a', false), s('a', false)], 'c', () => false), undefined, 'sessions in DATA are not taken');
  });
});
