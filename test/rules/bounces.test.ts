import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isBounceMessage, planBounce, afterBounce, type BounceFacts } from '../../src/rules/index.js';
import type { Bounce, BouncedRecipient } from '../../src/parse/bounce.js';
import type { SuppressionState } from '../../src/shared/domain.js';

const NOW = '2026-12-02T10:00:00.000Z';
const report = (recipients: BouncedRecipient[], form = 'rfc3464', noFailure = false): Bounce => ({ form, standard: form === 'rfc3464', recipients, noFailure, originalMessageId: '<dg.7.x@acme.test>' });
const failed = (address: string, status: string, diagnostic: string | null = null): BouncedRecipient => ({ address, action: 'failed', status, diagnostic });
const fresh = (address: string): SuppressionState => ({ address, suppressed: false, reason: null, code: null, diagnostic: null, bounces: 0, softInRow: 0, since: null, lastBounce: null });

describe('R67: which messages are bounces', () => {
  const text = report([failed('a@x.test', '5.1.1')], 'qmail');
  const cases: Array<[string, BounceFacts, boolean]> = [
    ['R67: an RFC 3464 report is one, whoever sent it', { bounce: report([]), verpOutboxId: null, automated: null, skip: [] }, true],
    ['R67: a text bounce from a robot is one', { bounce: text, verpOutboxId: null, automated: 'robot sender mailer-daemon@mx.test', skip: [] }, true],
    ['R67: a text bounce a person forwards is mail to support', { bounce: text, verpOutboxId: null, automated: null, skip: [] }, false],
    ['R67: anything at a signed return path is one (suspended unless it reads as a report)', { bounce: null, verpOutboxId: 12, automated: null, skip: [] }, true],
    ['R67: ordinary mail is not', { bounce: null, verpOutboxId: null, automated: null, skip: [] }, false],
    ['R41: a released unmatched_bounce is processed as mail', { bounce: report([]), verpOutboxId: 12, automated: 'x', skip: ['unmatched_bounce'] }, false],
  ];
  for (const [name, facts, expected] of cases) it(name, () => assert.equal(isBounceMessage(facts), expected));
});

describe('R67/R68: what a matched bounce does', () => {
  const n = { id: 5, ticketId: 7, recipients: ['gone@customer.test', 'cc@customer.test'] };

  it('R67, R68: a hard bounce marks the row bounced with code and diagnostic, warns the ticket and suppresses the address', () => {
    const p = planBounce(report([failed('gone@customer.test', '5.1.1', '550 5.1.1 User unknown')]), n, new Map(), 5, NOW);
    assert.equal(p.outboxError, 'gone@customer.test: 5.1.1 550 5.1.1 User unknown');
    assert.equal(p.warn, true);
    assert.deepEqual(p.states, [{ ...fresh('gone@customer.test'), suppressed: true, reason: 'hard_bounce', code: '5.1.1', diagnostic: '550 5.1.1 User unknown', bounces: 1, since: NOW, lastBounce: NOW }]);
    assert.deepEqual(p.notes.map((x) => [x.change, x.rule]), [['notification_bounced', 'R67'], ['address_suppressed', 'R68']]);
    assert.deepEqual(p.effects.map((e) => [e.address, e.kind, e.suppressed]), [['gone@customer.test', 'hard', true]]);
  });

  it('R68: a soft bounce counts; the limit in a row suppresses', () => {
    let s = fresh('cc@customer.test');
    for (let i = 1; i < 3; i++) {
      s = afterBounce(s, 'soft', '4.2.2', 'mailbox full', 3, NOW);
      assert.equal(s.suppressed, false, `soft bounce ${i} of 3`);
      assert.equal(s.softInRow, i);
    }
    const p = planBounce(report([failed('cc@customer.test', '4.2.2', 'mailbox full')]), n, new Map([[s.address, s]]), 3, NOW);
    assert.equal(p.states[0]!.suppressed, true);
    assert.equal(p.states[0]!.reason, 'soft_bounce_limit');
    assert.equal(p.states[0]!.bounces, 3);
    assert.equal(p.outboxError, 'cc@customer.test: 4.2.2 mailbox full', 'R67: a soft bounce still marks the row bounced');
  });

  it('R68: soft bounces more than 30 days apart are not in a row', () => {
    const first = afterBounce(fresh('a@x.test'), 'soft', '4.2.2', null, 2, '2026-01-01T00:00:00.000Z');
    const later = afterBounce(first, 'soft', '4.2.2', null, 2, '2026-03-01T00:00:00.000Z');
    assert.deepEqual([later.softInRow, later.suppressed, later.bounces], [1, false, 2]);
    const soon = afterBounce(first, 'soft', '4.2.2', null, 2, '2026-01-20T00:00:00.000Z');
    assert.deepEqual([soon.softInRow, soon.suppressed], [2, true]);
  });

  it('R68: a hard bounce after soft ones suppresses at once and ends the row of soft ones', () => {
    const soft = afterBounce(fresh('a@x.test'), 'soft', '4.4.1', null, 5, NOW);
    const hard = afterBounce(soft, 'hard', '5.1.1', null, 5, NOW);
    assert.deepEqual([hard.suppressed, hard.reason, hard.softInRow, hard.bounces], [true, 'hard_bounce', 0, 2]);
  });

  it('R68: an address already suppressed stays so, with its first reason and date', () => {
    const first = afterBounce(fresh('a@x.test'), 'hard', '5.1.1', null, 5, '2026-01-01T00:00:00.000Z');
    const again = afterBounce(first, 'soft', '4.2.2', null, 5, NOW);
    assert.deepEqual([again.suppressed, again.reason, again.since, again.bounces], [true, 'hard_bounce', '2026-01-01T00:00:00.000Z', 2]);
  });

  it('R67: a delay report is audited only: the row is not bounced and nobody is counted', () => {
    const p = planBounce(report([{ address: 'gone@customer.test', action: 'delayed', status: '4.4.7', diagnostic: null }]), n, new Map(), 5, NOW);
    assert.deepEqual([p.outboxError, p.warn, p.states], [null, false, []]);
    assert.deepEqual(p.notes.map((x) => x.change), ['notification_delayed']);
  });

  it('R68: a forwarded address that bounces under its new name is the only recipient\'s bounce', () => {
    const p = planBounce(report([failed('new@elsewhere.test', '5.1.1')]), { ...n, recipients: ['gone@customer.test'] }, new Map(), 5, NOW);
    assert.equal(p.states[0]!.address, 'gone@customer.test');
    assert.match(p.outboxError!, /new@elsewhere\.test \(sent to gone@customer\.test\)/);
  });

  it('R68: with several recipients, a bounce for an address none of them is suppresses no one', () => {
    const p = planBounce(report([failed('new@elsewhere.test', '5.1.1')]), n, new Map(), 5, NOW);
    assert.deepEqual(p.states, []);
    assert.equal(p.warn, true);
    assert.ok(p.notes.some((x) => x.change === 'bounce_not_attributed'));
  });

  it('R67: a report with no recipient in it still marks the row bounced and warns; nobody is suppressed', () => {
    const p = planBounce(report([]), n, new Map(), 5, NOW);
    assert.equal(p.warn, true);
    assert.match(p.outboxError!, /names no recipient/);
    assert.deepEqual(p.states, []);
  });

  it('R68: a bounce at a signed return path speaks for that copy\'s recipient only, whatever the report names', () => {
    const p = planBounce(report([failed('cc@customer.test', '5.1.1'), failed('other@x.test', '5.1.1')]), n, new Map(), 5, NOW, { only: 'gone@customer.test' });
    assert.deepEqual(p.states.map((s) => s.address), ['gone@customer.test']);
    assert.deepEqual(p.effects.map((e) => e.address), ['gone@customer.test']);
  });

  it('R68: a report matched only by Message-ID while a return path is set is recorded but suppresses no one', () => {
    const p = planBounce(report([failed('gone@customer.test', '5.1.1')]), n, new Map(), 5, NOW, { suppress: false });
    assert.deepEqual([p.states, p.warn], [[], true]);
    assert.ok(p.notes.some((x) => x.change === 'bounce_not_trusted'));
  });

  it('R67: a success report (delivered, relayed) changes nothing but the audit', () => {
    const p = planBounce(report([], 'rfc3464', true), n, new Map(), 5, NOW);
    assert.deepEqual([p.outboxError, p.warn, p.states], [null, false, []]);
    assert.deepEqual(p.notes.map((x) => x.change), ['delivery_report']);
  });

  it('R67: two recipients in one report are both recorded; a repeated one counts once', () => {
    const p = planBounce(report([failed('gone@customer.test', '5.1.1'), failed('cc@customer.test', '5.2.1'), failed('gone@customer.test', '5.1.1')]), n, new Map(), 5, NOW);
    assert.deepEqual(p.states.map((s) => [s.address, s.bounces]), [['gone@customer.test', 1], ['cc@customer.test', 1]]);
    assert.equal(p.outboxError!.split('; ').length, 2);
  });
});
