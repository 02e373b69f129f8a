import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, cliJson } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { SmtpClient } from '../helpers/smtp.js';
import { MovableClock } from '../helpers/clock.js';
import type { Daemon } from '../../src/daemon.js';

interface OutboxJson { id: number; status: string; trigger: string; to: string[]; cc: string[] }

/**
 * R43's notification cap, through real SMTP intake and `deskgate outbox list --json`: staff
 * have their own hourly limit (limits.notifications_per_staff_per_hour, 500), end users keep
 * notifications_per_recipient_per_hour (20). No smarthost: queued mail stays queued.
 */
describe('R43 notification limits: staff and end users', () => {
  let env: TestEnv;
  let d: Daemon & { port: number };
  const clock = new MovableClock();

  before(async () => {
    env = makeEnv((c) => {
      delete (c.limits as Record<string, unknown>).notifications_per_recipient_per_hour; // the shipped defaults
      c.triggers = { defaults: true, items: [{ id: 'notify-all-agents-received', active: true }] };
    });
    d = await startTestDaemon(env, { clock });
  });
  after(async () => {
    await d.stop();
    env.cleanup();
  });

  async function deliverAll(froms: string[], tag: string): Promise<void> {
    const c = await SmtpClient.connect(d.port);
    await c.cmd('EHLO customers.test');
    for (const [i, from] of froms.entries()) {
      assert.match(await c.send(from, [SUPPORT], mail({ from, messageId: uniqueId(`${tag}${i}`), subject: `${tag} ${i}` })), /^250 /);
    }
    await c.quit();
    await waitFor(async () => (await d.app.intake.pendingCount()) === 0, 'all processed', 30_000);
  }
  const outbox = () => cliJson<OutboxJson[]>(['outbox', 'list', '-c', env.configPath]);
  const to = (rows: OutboxJson[], email: string, status: string) => rows.filter((r) => r.status === status && [...r.to, ...r.cc].includes(email)).length;

  it('R43: agents get more than 20 notifications an hour (new-ticket and group mail), none held; an end user past 20 is held', async () => {
    // 25 new tickets from 25 different customers: each agent gets 25 "New" and 25 "New in Support" mails.
    await deliverAll(Array.from({ length: 25 }, (_, i) => `customer${i}@customers.test`), 'busy');
    let rows = await outbox();
    for (const agent of ['alice@acme.test', 'bob@acme.test']) {
      assert.equal(to(rows, agent, 'queued'), 50, `${agent}: 25 new-ticket + 25 group notifications queued`);
      assert.equal(to(rows, agent, 'held'), 0, `${agent}: nothing held`);
    }
    assert.equal(rows.filter((r) => r.status === 'held').length, 0);
    // One end user opening 25 tickets: the first 20 receipts are queued, the rest held.
    await deliverAll(Array.from({ length: 25 }, () => 'carol@customer.test'), 'carol');
    rows = await outbox();
    assert.equal(to(rows, 'carol@customer.test', 'queued'), 20);
    assert.equal(to(rows, 'carol@customer.test', 'held'), 5);
    assert.equal(to(rows, 'alice@acme.test', 'held'), 0, 'agents are still below their own limit after 100 notifications');
  });

  it('R43: an end user\'s count rolls off after an hour', async () => {
    clock.advance(61 * 60_000);
    await deliverAll(['carol@customer.test'], 'later');
    const rows = await outbox();
    assert.equal(to(rows, 'carol@customer.test', 'queued'), 21, 'a new hour: the receipt is queued again');
    assert.equal(to(rows, 'carol@customer.test', 'held'), 5);
  });
});
