import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, cliJson, runCli } from '../helpers/daemon.js';
import { mail, uniqueId, type MailSpec } from '../helpers/mail.js';
import { sendMail, SmtpClient } from '../helpers/smtp.js';
import { signed, DKIM_TXT } from '../helpers/dkim.js';
import { DnsStub } from '../helpers/dns-stub.js';
import type { Daemon } from '../../src/daemon.js';


describe('trust and abuse over SMTP (R41-R45)', () => {
  const dns = new DnsStub();
  let env: TestEnv;
  let d: Daemon & { port: number };
  let ticketId: number;
  const opening = uniqueId('trust-open');

  before(async () => {
    await dns.start();
    dns.txt.set('acme.test', ['v=spf1 ip4:192.0.2.10 -all']);
    dns.txt.set('dg._domainkey.acme.test', [DKIM_TXT]);
    dns.txt.set('_dmarc.acme.test', ['v=DMARC1; p=none']);
    dns.txt.set('_dmarc.bigbank.test', ['v=DMARC1; p=reject']);
    dns.txt.set('bigbank.test', ['v=spf1 -all']);
    env = makeEnv((c) => {
      c.trust = { verify: true, require_authenticated_agents: true };
      c.dns = { servers: [dns.server], timeout: '1s' };
    });
    d = await startTestDaemon(env);
    ticketId = await deliver({ messageId: opening, subject: 'Trust me' });
  });
  after(async () => {
    await d.stop();
    await dns.stop();
    env.cleanup();
  });

  async function send(raw: Buffer, from = 'carol@customer.test'): Promise<{ reply: string; row?: Awaited<ReturnType<Daemon['app']['intake']['get']>> }> {
    const reply = await sendMail(d.port, SUPPORT, raw, from);
    if (!reply.startsWith('250')) return { reply };
    const intakeId = Number(/queued as (\d+)/.exec(reply)![1]);
    const row = await waitFor(async () => { const r = (await d.app.intake.get(intakeId)); return r && ['done', 'failed', 'suspended'].includes(r.status) ? r : undefined; }, 'processed', 15_000);
    return { reply, row };
  }
  async function deliver(spec: MailSpec): Promise<number> {
    const { row } = await send(mail(spec));
    assert.equal(row?.status, 'done', row?.error ?? row?.error_code ?? '');
    return row!.ticket_id!;
  }
  const show = async () => (await d.app.views.show(ticketId))!;

  it('R44: a spoofed agent From without DKIM/SPF is suspended: no Mail API effect, no CC change', async () => {
    const before = (await show());
    const { row } = await send(mail({ from: 'Bob <bob@acme.test>', inReplyTo: opening, cc: 'new@customer.test', body: '#status solved\n#assignee me\nClosing.' }), 'bob@acme.test');
    assert.equal(row!.status, 'suspended');
    assert.equal(row!.error_code, 'unverified_agent');
    const after = (await show());
    assert.deepEqual([after.status, after.ccs, after.comments!.length], [before.status, before.ccs, before.comments!.length]);
    const list = await cliJson<Array<{ id: number; reason: string; from: string; subject: string }>>(['suspended', 'list', '-c', env.configPath]);
    assert.ok(list.some((s) => s.id === row!.id && s.reason === 'unverified_agent' && s.from === 'bob@acme.test'));
  });

  it('R44: the same mail DKIM-signed by acme.test gets agent powers; auth is stored with the comment', async () => {
    const { row } = await send(await signed(mail({ from: 'Bob <bob@acme.test>', inReplyTo: opening, cc: 'new2@customer.test', body: '#status pending\nWaiting for you.' })), 'bob@acme.test');
    assert.equal(row!.status, 'done', row!.error_code ?? '');
    const t = (await show());
    assert.equal(t.status, 'pending');
    assert.ok(t.ccs.some((c) => c.email === 'new2@customer.test'));
    const c = t.comments!.at(-1)!;
    assert.deepEqual(c.auth, { spf: 'fail', dkim: 'pass', dmarc: 'pass' });
  });

  it('R44: a DKIM-signed agent reply too big to keep in memory is checked from its spool file, as streamed: pass', async () => {
    const body = `#tags big-log\nThe log you asked for:\n${'2026-12-02 07:00:00 printer: paper jam in tray 2\n'.repeat(9000)}`;
    const { row } = await send(await signed(mail({ from: 'Bob <bob@acme.test>', inReplyTo: opening, body })), 'bob@acme.test');
    assert.equal(row!.status, 'done', row!.error_code ?? '');
    assert.ok(row!.raw_path, 'past 256 KB the message is a spool file (issue 15: DKIM reads it as a stream)');
    const t = (await show());
    assert.ok(t.tags.includes('big-log'), 'the agent\'s Mail API command applied');
    assert.deepEqual(t.comments!.at(-1)!.auth, { spf: 'fail', dkim: 'pass', dmarc: 'pass' });
  });

  it('R41: release processes a suspended message, skipping the check that held it; delete removes one', async () => {
    const { row } = await send(mail({ from: 'Bob <bob@acme.test>', inReplyTo: opening, body: '#tags released\nFrom my phone.' }), 'bob@acme.test');
    assert.equal(row!.error_code, 'unverified_agent');
    const shown = await runCli(['suspended', 'show', String(row!.id), '-c', env.configPath]);
    assert.match(shown.stdout, /From my phone/);
    const r = await cliJson<{ status: string; ticket_id: number }>(['suspended', 'release', String(row!.id), '-c', env.configPath]);
    assert.deepEqual([r.status, r.ticket_id], ['done', ticketId]);
    assert.ok((await show()).tags.includes('released'));
    const { row: other } = await send(mail({ from: 'Bob <bob@acme.test>', inReplyTo: opening, body: 'spam' }), 'bob@acme.test');
    await cliJson(['suspended', 'delete', String(other!.id), '-c', env.configPath]);
    const list = await cliJson<Array<{ id: number }>>(['suspended', 'list', '-c', env.configPath]);
    assert.ok(!list.some((s) => s.id === other!.id || s.id === row!.id));
  });

  it('R45: mail failing DMARC of a p=reject domain is suspended (failed_dmarc)', async () => {
    const { row } = await send(mail({ from: 'CEO <ceo@bigbank.test>', subject: 'Wire money' }), 'ceo@bigbank.test');
    assert.deepEqual([row!.status, row!.error_code], ['suspended', 'failed_dmarc']);
  });

  it('R42: an auto-reply that would open a ticket is suspended; on a ticket it is a private note flagged automated, and the robot is never notified', async () => {
    const { row } = await send(mail({ from: 'Out of office <ooo@customer.test>', headers: { 'Auto-Submitted': 'auto-replied' } }), 'ooo@customer.test');
    assert.deepEqual([row!.status, row!.error_code], ['suspended', 'automated_response']);
    const { row: r2 } = await send(mail({ from: 'noreply@shop.test', subject: 'Your order' }), 'noreply@shop.test');
    assert.equal(r2!.error_code, 'automated_response');
    const before = (await show()).status;
    await send(mail({ from: 'Lists <news@customer.test>', inReplyTo: opening, headers: { Precedence: 'bulk', 'List-Id': '<news.customer.test>' }, body: 'Weekly news' }), 'news@customer.test');
    const t = (await show());
    const c = t.comments!.at(-1)!;
    assert.deepEqual([c.public, c.flags, c.visibility_rule, t.status], [false, ['automated'], 'R42', before]);
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--add-cc', 'news@customer.test']);
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--comment', 'Public update', '--author', 'alice@acme.test']);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(!(await d.app.outbox.list()).some((o) => [...o.to, ...o.cc].some((p) => p.email === 'news@customer.test')), 'no notification to a robot');
    const { row: person } = await send(mail({ from: 'Dora <dora@customer.test>', headers: { 'Auto-Submitted': 'no' } }), 'dora@customer.test');
    assert.equal(person!.status, 'done', 'Auto-Submitted: no is a person');
  });

  it('R41: suspended mail older than suspended.keep_days is deleted', async () => {
    const { row } = await send(mail({ from: 'noreply@old.test', subject: 'Old robot mail' }), 'noreply@old.test');
    assert.equal(row!.status, 'suspended');
    assert.equal(await d.app.expireSuspended(new Date(Date.now() + 13 * 86_400_000)), 0);
    assert.ok(await d.app.expireSuspended(new Date(Date.now() + 15 * 86_400_000)) >= 1);
    assert.equal((await d.app.intake.get(row!.id))!.status, 'deleted');
    assert.equal((await d.app.intake.rawBytes(row!.id)), undefined, 'its bytes are gone too');
  });

  it('R43: mail from a support address is suspended (from_support_address)', async () => {
    const { row } = await send(mail({ from: 'Acme Billing <billing@acme.test>', subject: 'Loop?' }), 'billing@acme.test');
    assert.deepEqual([row!.status, row!.error_code], ['suspended', 'from_support_address']);
  });

  it('R45: smuggling probes, several From addresses and huge headers are refused at SMTP time', async () => {
    const base = mail({ subject: 'probe' }).toString('binary');
    const probes: Array<[string, string, RegExp]> = [
      ['bare LF', base.replace('It is on fire', 'line one\nline two'), /^554 5\.5\.2/],
      ['<CR><LF>.<LF>', base.replace('It is on fire again.', 'before\r\n.\nMAIL FROM:<x@y.test>'), /^554 5\.5\.2/],
      ['<CR>.<CR>', base.replace('It is on fire again.', 'a\r.\rb'), /^554 5\.5\.2/],
      ['several From', base.replace(/^From: .*$/m, 'From: a@customer.test, b@customer.test'), /^550 5\.7\.1/],
      ['huge header', base.replace(/^Subject: .*$/m, `Subject: ${'x'.repeat(70_000)}`), /^552 5\.3\.4/],
    ];
    for (const [name, raw, expected] of probes) {
      const c = await SmtpClient.connect(d.port);
      await c.cmd('EHLO probe.test');
      await c.cmd('MAIL FROM:<carol@customer.test>');
      await c.cmd(`RCPT TO:<${SUPPORT}>`);
      assert.match(await c.cmd('DATA'), /^354/);
      (c as unknown as { socket: import('node:net').Socket }).socket.write(Buffer.from(`${raw}\r\n.\r\n`, 'binary'));
      assert.match(await c.reply(), expected, name);
      await c.quit();
    }
  });
});

describe('R43 loop storm and SMTP limits', () => {
  it('R43: 100 messages from one sender → 20 processed, 20 suspended, the rest refused with 450; outbound bounded', async () => {
    const env = makeEnv((c) => { c.limits = { per_sender_per_hour: 20, notifications_per_recipient_per_hour: 20 }; });
    const d = await startTestDaemon(env);
    try {
      const c = await SmtpClient.connect(d.port);
      await c.cmd('EHLO robot.test');
      const replies: string[] = [];
      for (let i = 0; i < 100; i++) replies.push(await c.send('loop@customer.test', [SUPPORT], mail({ from: 'loop@customer.test', messageId: uniqueId(`storm${i}`), subject: `Storm ${i}` })));
      await c.quit();
      const accepted = replies.filter((r) => r.startsWith('250')).length;
      assert.equal(accepted, 40);
      assert.equal(replies.filter((r) => r.startsWith('450 4.7.1')).length, 60);
      await waitFor(async () => (await d.app.intake.pendingCount()) === 0, 'processed');
      assert.equal((await d.app.intake.list('done')).length, 20);
      const suspended = (await d.app.intake.list('suspended'));
      assert.equal(suspended.length, 20);
      assert.ok(suspended.every((s) => s.error_code === 'email_loop'));
      const toSender = (await d.app.outbox.list()).filter((o) => o.to.some((p) => p.email === 'loop@customer.test') && o.status !== 'held');
      assert.ok(toSender.length <= 20, `at most 20 notifications to the sender, got ${toSender.length}`);
    } finally {
      await d.stop();
      env.cleanup();
    }
  });

  it('too many sessions from one IP get 421; a denylisted client gets 554', async () => {
    const env = makeEnv((c) => { (c.smtp as Record<string, unknown>).max_sessions_per_ip = 2; });
    const d = await startTestDaemon(env);
    const open: SmtpClient[] = [];
    try {
      open.push(await SmtpClient.connect(d.port), await SmtpClient.connect(d.port));
      await assert.rejects(SmtpClient.connect(d.port), /bad greeting: 421/);
    } finally {
      for (const c of open) c.destroy();
      await d.stop();
      env.cleanup();
    }
    const env2 = makeEnv((c) => { (c.smtp as Record<string, unknown>).client_denylist = ['127.0.0.0/8']; });
    const d2 = await startTestDaemon(env2);
    try {
      await assert.rejects(SmtpClient.connect(d2.port), /bad greeting: 554/);
    } finally {
      await d2.stop();
      env2.cleanup();
    }
  });

  it('R44: a DNS lookup that times out is temperror, never a pass: an agent is suspended', async () => {
    const env = makeEnv((c) => {
      c.trust = { verify: true };
      c.dns = { servers: ['127.0.0.1:9'], timeout: '300ms' }; // nothing answers there
    });
    const d = await startTestDaemon(env);
    try {
      const reply = await sendMail(d.port, SUPPORT, mail({ from: 'Bob <bob@acme.test>', subject: 'From the road' }), 'bob@acme.test');
      const id = Number(/queued as (\d+)/.exec(reply)![1]);
      const row = await waitFor(async () => { const r = (await d.app.intake.get(id)); return r?.status === 'suspended' || r?.status === 'done' ? r : undefined; }, 'processed', 20_000);
      assert.deepEqual([row.status, row.error_code], ['suspended', 'unverified_agent']);
    } finally {
      await d.stop();
      env.cleanup();
    }
  });
});
