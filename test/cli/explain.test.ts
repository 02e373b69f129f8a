import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { makeEnv, SUPPORT, type TestEnv } from '../helpers/env.js';
import { cliJson, runCli } from '../helpers/daemon.js';
import { mail, uniqueId, type MailSpec } from '../helpers/mail.js';
import { signed, DKIM_TXT } from '../helpers/dkim.js';
import { DnsStub } from '../helpers/dns-stub.js';


/** Everything explain must leave alone: the rows of the stored tables and the files under data_dir. */
function snapshot(env: TestEnv): string {
  const db = new Database(join(env.dir, 'data', 'deskgate.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const tables = ['tickets', 'comments', 'audit', 'outbox', 'outbox_recipients', 'intake', 'users', 'ticket_ccs', 'ticket_followers', 'message_ids', 'attachments'];
    const rows = tables.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()]);
    const files = readdirSync(join(env.dir, 'data'), { recursive: true }).map(String).filter((f) => !/deskgate\.sqlite(-wal|-shm)?$/.test(f)).sort();
    return JSON.stringify({ rows, files });
  } finally {
    db.close();
  }
}

/**
 * `deskgate explain` with trust.verify on (the default): the envelope options make the SPF/DKIM/
 * DMARC check real, and the triggers run in a transaction that is rolled back, so the
 * notifications it would queue are shown and nothing is stored.
 */
describe('deskgate explain tells the truth (R44, R17, R51)', () => {
  const dns = new DnsStub();
  let env: TestEnv;
  let ticketId: number;
  const opening = uniqueId('explain-open');
  let n = 0;

  const file = (raw: Buffer): string => {
    const f = join(env.dir, `m${++n}.eml`);
    writeFileSync(f, raw);
    return f;
  };
  const explain = (f: string, ...args: string[]) => cliJson(['explain', f, ...args, '-c', env.configPath]);
  const explainHuman = async (f: string, ...args: string[]) => {
    const r = await runCli(['explain', f, ...args, '-c', env.configPath]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const bobReplyAll = (spec: MailSpec = {}) => mail({ from: 'Bob <bob@acme.test>', inReplyTo: opening, cc: 'Dan <dan@customer.test>', body: 'We are on it.', ...spec });
  const passing = ['--sender', 'bob@acme.test', '--client-ip', '192.0.2.10', '--helo', 'mail.acme.test'];

  before(async () => {
    await dns.start();
    dns.txt.set('acme.test', ['v=spf1 ip4:192.0.2.10 -all']);
    dns.txt.set('dg._domainkey.acme.test', [DKIM_TXT]);
    dns.txt.set('_dmarc.acme.test', ['v=DMARC1; p=none']);
    env = makeEnv((c) => {
      c.trust = { verify: true, require_authenticated_agents: true };
      c.dns = { servers: [dns.server], timeout: '1s' };
    });
    // The ticket: Carol's request with Dan on Cc, stored through the pipe intake.
    const r = await cliJson(['inject', file(mail({ messageId: opening, cc: 'Dan <dan@customer.test>', subject: 'Printer on fire' })), '-c', env.configPath]);
    assert.equal(r.status, 'done', r.error ?? '');
    ticketId = r.ticket_id;
  });
  after(async () => {
    await dns.stop();
    env.cleanup();
  });

  it('R44/R17/R51: an agent\'s signed Reply-all with its envelope: DMARC pass, public, and the requester\'s notification with its rendered subject', async () => {
    const f = file(await signed(bobReplyAll()));
    const before = snapshot(env);
    const j = await explain(f, ...passing);
    assert.deepEqual(j.trust, { checked: true, spf: 'pass', dkim: 'pass', dmarc: 'pass' });
    assert.deepEqual([j.action, j.ticket_id, j.public, j.visibility_rule, j.sender.role], ['add_comment', ticketId, true, 'R17', 'agent']);
    assert.ok(j.triggers.includes('notify-requester-comment'), JSON.stringify(j.triggers));
    // R50: Dan was on the mail, so only Carol gets the copy.
    const toCarol = j.notifications.filter((x: { trigger: string }) => x.trigger === 'notify-requester-comment');
    assert.equal(toCarol.length, 1, JSON.stringify(j.notifications));
    assert.deepEqual([toCarol[0].to, toCarol[0].cc], [['carol@customer.test'], []]);
    assert.match(toCarol[0].subject, new RegExp(`^\\[Ticket #${ticketId}\\] .*Printer on fire`));
    const human = await explainHuman(f, ...passing);
    assert.match(human, /Trust:\s+SPF pass, DKIM pass, DMARC pass/);
    assert.match(human, /Notify:\s+notify-requester-comment → To carol@customer.test/);
    assert.match(human, new RegExp(`Subject "\\[Ticket #${ticketId}\\]`));
    assert.equal(snapshot(env), before, 'explain stores nothing: no ticket, comment, audit or outbox row, no file');
  });

  it('R44: without an envelope the check is "not checked", never a made-up SUSPENDED; the rules decision and what a failure would do are shown', async () => {
    const f = file(await signed(bobReplyAll()));
    const before = snapshot(env);
    const j = await explain(f);
    assert.deepEqual(j.trust, { checked: false, spf: null, dkim: null, dmarc: null, if_failed: { action: 'suspend', suspended: 'unverified_agent' } });
    assert.deepEqual([j.action, j.public, j.visibility_rule], ['add_comment', true, 'R17']);
    assert.ok(j.notifications.some((x: { trigger: string; to: string[] }) => x.trigger === 'notify-requester-comment' && x.to[0] === 'carol@customer.test'));
    const human = await explainHuman(f);
    assert.match(human, /not checked \(give --client-ip\/--sender\)/);
    assert.match(human, /would be suspended \(unverified_agent, R44\)/);
    assert.doesNotMatch(human, /SUSPENDED/);
    assert.match(human, /PUBLIC because R17/);
    assert.equal(snapshot(env), before);
  });

  it('R44: a spoofed agent (SPF fail, no DKIM) is shown suspended unverified_agent, with nothing to notify', async () => {
    const f = file(bobReplyAll({ body: '#status solved\nClosing.' }));
    const args = ['--sender', 'bob@acme.test', '--client-ip', '203.0.113.9', '--helo', 'evil.test'];
    const before = snapshot(env);
    const j = await explain(f, ...args);
    assert.deepEqual(j.trust, { checked: true, spf: 'fail', dkim: 'none', dmarc: 'fail' });
    assert.deepEqual([j.action, j.suspended, j.rules], ['suspend', 'unverified_agent', ['R44']]);
    assert.deepEqual([j.triggers, j.notifications], [[], []]);
    const human = await explainHuman(f, ...args);
    assert.match(human, /Trust:\s+SPF fail, DKIM none, DMARC fail/);
    assert.match(human, /Decision:\s+SUSPENDED \(unverified_agent\) — R44/);
    assert.equal(snapshot(env), before);
  });

  it('R51: an end user\'s new ticket lists the receipt notification it would queue', async () => {
    const f = file(mail({ from: 'Dora <dora@customer.test>', subject: 'Scanner jammed' }));
    const args = ['--sender', 'dora@customer.test', '--client-ip', '198.51.100.7', '--helo', 'mail.customer.test'];
    const before = snapshot(env);
    const j = await explain(f, ...args);
    assert.equal(j.trust.checked, true);
    assert.equal(j.trust.dmarc, 'none');
    assert.deepEqual([j.action, j.new_ticket.requester, j.public], ['create_ticket', 'dora@customer.test', true]);
    assert.ok(j.triggers.includes('notify-requester-received'));
    const receipt = j.notifications.find((x: { trigger: string }) => x.trigger === 'notify-requester-received');
    assert.ok(receipt, JSON.stringify(j.notifications));
    assert.deepEqual([receipt.to, receipt.cc], [['dora@customer.test'], []]);
    assert.match(receipt.subject, /^\[Ticket #\d+\] Received: Scanner jammed$/);
    const human = await explainHuman(f, ...args);
    assert.match(human, /Notify:\s+notify-requester-received → To dora@customer.test; Subject "\[Ticket #\d+\] Received: Scanner jammed"/);
    assert.equal(snapshot(env), before);
  });

  it('--recipient is repeatable and leaves FILE alone', async () => {
    const f = file(mail({ from: 'Dora <dora@customer.test>', to: 'someone@customer.test', subject: 'Bcc to us' }));
    const r = await runCli(['explain', '--recipient', SUPPORT, '--recipient', 'billing@acme.test', f, '--json', '-c', env.configPath]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.new_ticket.recipient, SUPPORT);
  });

  it('with trust.verify off the check is reported as not checked, not as a verdict', async () => {
    const off = makeEnv();
    try {
      const f = join(off.dir, 'a.eml');
      writeFileSync(f, mail({ from: 'Bob <bob@acme.test>', subject: 'Proactive', to: [SUPPORT, 'zoe@customer.test'] }));
      const j = await cliJson(['explain', f, '-c', off.configPath]);
      assert.deepEqual(j.trust, { checked: false, spf: null, dkim: null, dmarc: null });
      const human = await runCli(['explain', f, '-c', off.configPath]);
      assert.match(human.stdout, /Trust:\s+not checked \(trust\.verify is off\)/);
    } finally {
      off.cleanup();
    }
  });
});
