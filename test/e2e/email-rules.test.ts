import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, cliJson, runCli } from '../helpers/daemon.js';
import { mail, uniqueId, type MailSpec } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import type { Daemon } from '../../src/daemon.js';

/**
 * The main email rules end to end: real SMTP in, the stored ticket read back through
 * `deskgate tickets show --json` as admins and scripts see it.
 */
describe('email rules end to end over SMTP (R16-R19, R24, R25, R27, R33, R38)', () => {
  let env: TestEnv;
  let d: Daemon & { port: number };
  let ticketId: number;
  const opening = uniqueId('open');

  before(async () => {
    env = makeEnv((c) => { (c as { ccs: unknown }).ccs = { blocklist: ['*@competitor.test'] }; });
    d = await startTestDaemon(env);
  });
  after(async () => {
    await d.stop();
    env.cleanup();
  });

  async function send(spec: MailSpec, from: string): Promise<void> {
    const raw = mail({ inReplyTo: opening, ...spec });
    const reply = await sendMail(d.port, SUPPORT, raw, from);
    assert.match(reply, /^250 /);
    const intakeId = Number(/queued as (\d+)/.exec(reply)![1]);
    const row = await waitFor(async () => { const r = (await d.app.intake.get(intakeId)); return r && r.status !== 'received' && r.status !== 'processing' ? r : undefined; }, 'processing');
    assert.equal(row.status, 'done', row.error ?? '');
  }
  const show = () => cliJson(['tickets', 'show', String(ticketId), '-c', env.configPath]);
  const last = async () => (await show()).comments.at(-1);

  it('R24/R25: a new mail with Cc adds the CC, not the blocklisted address', async () => {
    const raw = mail({ messageId: opening, cc: ['Dan <dan@customer.test>', 'spy@competitor.test'], subject: 'Printer on fire' });
    const r = await sendMail(d.port, SUPPORT, raw);
    assert.match(r, /^250 /);
    await waitFor(async () => (await d.app.views.list()).length > 0, 'ticket');
    ticketId = (await d.app.views.list())[0]!.id;
    const t = await show();
    assert.deepEqual(t.ccs.map((c: { email: string }) => c.email), ['dan@customer.test']);
    assert.ok(t.audit.some((a: { change: string; rule: string; value: string }) => a.change === 'cc_added' && a.rule === 'R24' && a.value === 'dan@customer.test'));
    assert.ok(t.audit.some((a: { change: string; rule: string; value: string }) => a.change === 'cc_not_added' && a.rule === 'R25' && a.value.startsWith('spy@competitor.test')));
  });

  it('R16: a CC leaving out the requester is a private note; with the requester it is public', async () => {
    await send({ from: 'Dan <dan@customer.test>', body: 'Just between us: it smells.' }, 'dan@customer.test');
    let c = await last();
    assert.deepEqual([c.public, c.visibility_rule, c.author.email], [false, 'R16', 'dan@customer.test']);
    await send({ from: 'Dan <dan@customer.test>', cc: 'carol@customer.test', body: 'Same here.' }, 'dan@customer.test');
    c = await last();
    assert.deepEqual([c.public, c.visibility_rule], [true, 'R16']);
  });

  it('R17: an agent\'s Reply is a private note; Reply-all is public and opens the ticket (R36)', async () => {
    await send({ from: 'Bob <bob@acme.test>', body: 'Looking at it internally.' }, 'bob@acme.test');
    let t = await show();
    assert.deepEqual([t.comments.at(-1).public, t.comments.at(-1).visibility_rule, t.status], [false, 'R17', 'new']);
    await send({ from: 'Bob <bob@acme.test>', to: [SUPPORT, 'carol@customer.test'], cc: 'dan@customer.test', body: 'We are on it.' }, 'bob@acme.test');
    t = await show();
    assert.deepEqual([t.comments.at(-1).public, t.comments.at(-1).visibility_rule, t.status], [true, 'R17', 'open']);
  });

  it('R18: a follower\'s Reply-all is still a private note', async () => {
    await cliJson(['tickets', 'update', String(ticketId), '-c', env.configPath, '--add-follower', 'alice@acme.test']);
    await send({ from: 'Alice <alice@acme.test>', to: [SUPPORT, 'carol@customer.test'], body: 'Watching this one.' }, 'alice@acme.test');
    const c = await last();
    assert.deepEqual([c.public, c.visibility_rule], [false, 'R18']);
  });

  it('R19: a light agent\'s Reply-all is a private note', async () => {
    await send({ from: 'Lea <lea@acme.test>', to: [SUPPORT, 'carol@customer.test'], body: 'FYI the part is on order.' }, 'lea@acme.test');
    const c = await last();
    assert.deepEqual([c.public, c.visibility_rule, c.author.role], [false, 'R19', 'light_agent']);
  });

  it('R33: a third party\'s reply is a flagged private note and warns the ticket', async () => {
    await send({ from: 'Frank <frank@other.test>', to: [SUPPORT, 'carol@customer.test'], body: 'I was forwarded this.' }, 'frank@other.test');
    const t = await show();
    const c = t.comments.at(-1);
    assert.deepEqual([c.public, c.visibility_rule, c.flags], [false, 'R33', ['third_party']]);
    assert.deepEqual(t.warnings, ['third_party_reply']);
    assert.ok(!t.ccs.some((x: { email: string }) => x.email === 'frank@other.test'));
  });

  it('R27: the requester leaving out a CC removes it', async () => {
    await send({ from: 'Carol <carol@customer.test>', body: 'Thanks, Dan no longer needs updates.' }, 'carol@customer.test');
    const t = await show();
    assert.deepEqual(t.ccs, []);
    assert.ok(t.audit.some((a: { change: string; rule: string; value: string }) => a.change === 'cc_removed' && a.rule === 'R27' && a.value === 'dan@customer.test'));
  });

  it('R38: an agent\'s Mail API commands solve and assign; command lines leave the comment', async () => {
    await send({ from: 'Bob <bob@acme.test>', to: [SUPPORT, 'carol@customer.test'], body: '#status solved\n#assignee me\n#tags fixed\n\nReplaced the fuser.' }, 'bob@acme.test');
    const t = await show();
    assert.deepEqual([t.status, t.assignee?.email, t.comments.at(-1).body], ['solved', 'bob@acme.test', 'Replaced the fuser.']);
    assert.ok(t.tags.includes('fixed'));
    assert.ok(t.audit.some((a: { change: string; rule: string }) => a.change === 'mail_api_command' && a.rule === 'R38'));
  });

  it('explain: prints the decision for a saved .eml and stores nothing', async () => {
    const before = await show();
    const file = join(env.dir, 'why.eml');
    writeFileSync(file, mail({ from: 'Bob <bob@acme.test>', inReplyTo: opening, body: 'Internal: customer is difficult.' }));
    const j = await cliJson(['explain', file, '-c', env.configPath]);
    assert.equal(j.action, 'add_comment');
    assert.equal(j.ticket_id, ticketId);
    assert.equal(j.thread.rule, 'R10');
    assert.deepEqual([j.public, j.visibility_rule, j.sender.role], [false, 'R17', 'agent']);
    assert.ok(j.rules.includes('R17'));
    const human = await runCli(['explain', file, '-c', env.configPath]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`reply to ticket #${ticketId}`));
    assert.match(human.stdout, /PRIVATE NOTE because R17: an agent: public only when the requester or an end-user CC is in To\/Cc/);
    const after = await show();
    assert.equal(after.comments.length, before.comments.length, 'explain stores nothing');
    assert.equal((await d.app.intake.list('done')).length + (await d.app.intake.list('failed')).length, (await d.app.sql.value('SELECT count(*) FROM intake')));
  });

  it('explain: a new ticket, CC changes and Mail API errors are shown', async () => {
    const file = join(env.dir, 'new.eml');
    writeFileSync(file, mail({ from: 'Bob <bob@acme.test>', subject: 'Fwd: broken', cc: 'zed@customer.test', body: '#priority high\n---------- Forwarded message ---------\nFrom: Zoe <zoe@customer.test>\n\nIt broke.' }));
    const j = await cliJson(['explain', file, '-c', env.configPath]);
    assert.equal(j.action, 'create_ticket');
    assert.equal(j.new_ticket.requester, 'zoe@customer.test');
    assert.deepEqual(j.cc_changes, [{ change: 'cc_added', email: 'zed@customer.test', rule: 'R24' }]);
    assert.equal(j.mail_api[0].applied, false);
    const human = (await runCli(['explain', file, '-c', env.configPath])).stdout;
    assert.match(human, /R15/);
    assert.match(human, /Mail API:\s+#priority high → not applied: unknown command/);
  });
});
