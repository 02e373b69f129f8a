import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { makeEnv, baseConfig, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, cliJson, runCli } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import { SmtpSink } from '../helpers/sink.js';
import type { Daemon } from '../../src/daemon.js';
import { MovableClock } from '../helpers/clock.js';

const HOUR = 3_600_000;

describe('automations with a moved clock (R52) and header safety (R54)', () => {
  let env: TestEnv;
  let d: Daemon & { port: number };
  const sink = new SmtpSink();
  const clock = new MovableClock();

  before(async () => {
    await sink.start();
    env = makeEnv((c) => {
      c.outbound = { smtp: { host: '127.0.0.1', port: sink.port, secure: false }, retry_initial: '100ms' };
      c.automations = { defaults: true, items: [{ id: 'pending-reminder-24h', active: true }] };
      c.triggers = {
        defaults: true,
        items: [{
          id: 'greet-by-name', name: 'Greeting with placeholders in the subject', active: true,
          conditions: { all: [{ field: 'is', value: 'created' }, { field: 'subject_contains', op: 'includes', value: 'inject' }] },
          actions: [{ email_user: 'requester', subject: 'Hello {{ticket.requester.name}}: {{ticket.title}}', body: 'Dear {{ticket.requester.name}}', include_author: true }],
        }],
      };
    });
    d = await startTestDaemon(env, { clock });
  });
  after(async () => {
    await d.stop();
    await sink.stop();
    env.cleanup();
  });

  async function newTicket(subject: string, from = 'Carol <carol@customer.test>'): Promise<number> {
    const reply = await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('auto'), subject, from }), 'carol@customer.test');
    const intakeId = Number(/queued as (\d+)/.exec(reply)![1]);
    return (await waitFor(async () => (await d.app.intake.get(intakeId))?.ticket_id, 'ticket'))!;
  }
  const drained = async () => waitFor(async () => (await d.app.outbox.list()).every((r) => r.status === 'sent' || r.status === 'held' || r.status === 'failed'), 'outbox drained');

  it('R52: a solved ticket closes 96 hours after solving, not before; closing is audited and final', async () => {
    const id = await newTicket('Close me');
    await cliJson(['tickets', 'update', String(id), '-c', env.configPath, '--status', 'solved', '--author', 'bob@acme.test']);
    clock.advance(95 * HOUR);
    let run = await d.app.runAutomations();
    assert.ok(!run.fired.some((f) => f.ticketId === id));
    assert.equal((await d.app.views.show(id))!.status, 'solved');
    clock.advance(2 * HOUR);
    run = await d.app.runAutomations();
    assert.deepEqual(run.fired.find((f) => f.ticketId === id)?.automations, ['close-solved-4d']);
    const t = (await d.app.views.show(id))!;
    assert.equal(t.status, 'closed');
    assert.ok(t.audit!.some((a) => a.actor === 'automation:close-solved-4d' && a.value === 'solved->closed'));
    clock.advance(100 * HOUR);
    run = await d.app.runAutomations();
    assert.ok(!run.fired.some((f) => f.ticketId === id), 'closed tickets are not looked at again');
  });

  it('R52: the pending reminder (activated by id) mails the requester once and tags the ticket', async () => {
    const id = await newTicket('Waiting on you');
    await cliJson(['tickets', 'update', String(id), '-c', env.configPath, '--status', 'pending', '--author', 'bob@acme.test']);
    await drained();
    sink.clear();
    clock.advance(25 * HOUR);
    await d.app.runAutomations();
    clock.advance(HOUR);
    await d.app.runAutomations();
    await drained();
    const reminders = sink.messages.filter((m) => m.mail.subject?.includes(`[Ticket #${id}] Waiting for your reply`));
    assert.equal(reminders.length, 1);
    assert.deepEqual(reminders[0]!.rcpt, ['carol@customer.test']);
    assert.ok((await d.app.views.show(id))!.tags.includes('pending_reminder_24h'));
  });

  it('R54: CR/LF in a placeholder value adds no header and no recipient', async () => {
    sink.clear();
    const evilName = Buffer.from('Eve\r\nBcc: evil@evil.test\r\nX-Injected: yes').toString('base64');
    await newTicket('please inject me', `=?UTF-8?B?${evilName}?= <eve@customer.test>`);
    await drained();
    const greetings = sink.messages.filter((m) => m.mail.subject?.startsWith('Hello'));
    assert.equal(greetings.length, 1);
    const g = greetings[0]!;
    assert.deepEqual(g.rcpt, ['eve@customer.test']);
    const head = g.raw.slice(0, g.raw.search(/\r?\n\r?\n/));
    assert.doesNotMatch(head, /^(Bcc|X-Injected):/im);
    assert.ok(!sink.messages.some((m) => m.rcpt.includes('evil@evil.test')));
    assert.match(g.mail.subject!, /^Hello Eve Bcc: evil@evil\.test X-Injected: yes: please inject me$/);
  });

  it('deskgate triggers list and automations list show the rules in force, in run order', async () => {
    const triggers = await cliJson<Array<{ id: string; active: boolean }>>(['triggers', 'list', '-c', env.configPath]);
    assert.equal(triggers.length, 12);
    assert.equal(triggers.at(-1)!.id, 'greet-by-name');
    const autos = await cliJson<Array<{ id: string; active: boolean }>>(['automations', 'list', '-c', env.configPath]);
    assert.deepEqual(autos.map((a) => [a.id, a.active]), [['close-solved-4d', true], ['pending-reminder-24h', true], ['pending-reminder-5d', false]]);
    const human = await runCli(['triggers', 'list', '-c', env.configPath]);
    assert.match(human.stdout, /notify-requester-received\s+yes\s+Notify requester and CCs of received request/);
  });

  it('deskgate outbox list shows the queue as interfaces.md says', async () => {
    const rows = await cliJson<Array<Record<string, unknown>>>(['outbox', 'list', '-c', env.configPath, '--status', 'sent', '--limit', '2']);
    assert.equal(rows.length, 2);
    for (const k of ['id', 'ticket_id', 'trigger', 'status', 'from', 'to', 'cc', 'subject', 'message_id', 'in_reply_to', 'references', 'attempts', 'last_error', 'created_at', 'sent_at']) assert.ok(k in rows[0]!, k);
    assert.equal(rows[0]!.status, 'sent');
  });

  it('check-config warns when "notify all agents" is active with more than five agents', async () => {
    const cfg = baseConfig();
    cfg.agents = Array.from({ length: 6 }, (_, i) => ({ email: `agent${i}@acme.test`, role: 'agent' }));
    cfg.triggers = { defaults: true, items: [{ id: 'notify-all-agents-received', active: true }] };
    const path = join(env.dir, 'many.yaml');
    writeFileSync(path, stringify(cfg));
    const r = await runCli(['check-config', '-c', path]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /warning: trigger "Notify all agents of received request" .* 6 agents/);
  });
});
