import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { makeEnv, type TestEnv } from '../helpers/env.js';
import { runCli, cliJson } from '../helpers/daemon.js';
import { mail } from '../helpers/mail.js';

async function newTicket(env: TestEnv, subject: string): Promise<number> {
  const r = await runCli(['inject', '-c', env.configPath, '--json'], { input: mail({ subject }) });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { ticket_id: number }).ticket_id;
}

describe('deskgate tickets list|show|update', () => {
  let env: TestEnv;
  before(() => { env = makeEnv(); });
  after(() => env.cleanup());

  it('list prints the interfaces.md JSON, newest first, with --status and --limit', async () => {
    const a = await newTicket(env, 'First');
    const b = await newTicket(env, 'Second');
    const list = await cliJson<Array<Record<string, unknown>>>(['tickets', 'list', '-c', env.configPath]);
    assert.deepEqual(list.slice(0, 2).map((t) => t.id), [b, a]);
    assert.deepEqual(Object.keys(list[0]!).sort(), ['assignee', 'ccs', 'created_at', 'follow_up_of', 'followers', 'group', 'id', 'recipient', 'requester', 'status', 'subject', 'tags', 'updated_at', 'via', 'warnings'].sort());
    assert.equal((await cliJson<unknown[]>(['tickets', 'list', '-c', env.configPath, '--limit', '1'])).length, 1);
    assert.equal((await cliJson<unknown[]>(['tickets', 'list', '-c', env.configPath, '--status', 'solved'])).length, 0);
    const human = await runCli(['tickets', 'list', '-c', env.configPath]);
    assert.match(human.stdout, /^ID\s+STATUS\s+SUBJECT/);
    assert.match(human.stdout, /Second/);
  });

  it('show prints comments and audit; an unknown id exits 1', async () => {
    const id = await newTicket(env, 'Show me');
    const t = await cliJson(['tickets', 'show', String(id), '-c', env.configPath]);
    assert.equal(t.comments.length, 1);
    assert.deepEqual(Object.keys(t.comments[0]).sort(), ['attachments', 'auth', 'author', 'body', 'cc', 'created_at', 'flags', 'html_body', 'id', 'message_id', 'public', 'to', 'via', 'visibility_rule'].sort());
    assert.equal(t.comments[0].author.role, 'end_user');
    assert.ok(t.audit.some((a: { change: string }) => a.change === 'ticket_created'));
    const missing = await runCli(['tickets', 'show', '99999', '-c', env.configPath]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
  });

  it('update: assignee opens a new ticket (R35), group, followers, CCs, tags, comments', async () => {
    const id = String(await newTicket(env, 'Update me'));
    let t = await cliJson(['tickets', 'update', id, '-c', env.configPath, '--assignee', 'bob@acme.test', '--group', 'Billing', '--tag', 'vip', '--tag', 'printer']);
    assert.equal(t.assignee.email, 'bob@acme.test');
    assert.equal(t.assignee.name, 'Bob');
    assert.equal(t.status, 'open');
    assert.equal(t.group, 'Billing');
    assert.deepEqual(t.tags, ['vip', 'printer']);
    t = await cliJson(['tickets', 'update', id, '-c', env.configPath, '--add-follower', 'lea@acme.test', '--add-cc', 'dan@customer.test', '--add-cc', 'erin@customer.test']);
    assert.deepEqual(t.followers.map((f: { email: string }) => f.email), ['lea@acme.test']);
    assert.deepEqual(t.ccs.map((c: { email: string }) => c.email), ['dan@customer.test', 'erin@customer.test']);
    t = await cliJson(['tickets', 'update', id, '-c', env.configPath, '--remove-cc', 'dan@customer.test', '--remove-follower', 'lea@acme.test']);
    assert.deepEqual(t.ccs.map((c: { email: string }) => c.email), ['erin@customer.test']);
    assert.deepEqual(t.followers, []);
    t = await cliJson(['tickets', 'update', id, '-c', env.configPath, '--comment', 'Internal: check the toner', '--private', '--author', 'bob@acme.test']);
    const note = t.comments.at(-1);
    assert.deepEqual([note.public, note.body, note.author.email, note.via], [false, 'Internal: check the toner', 'bob@acme.test', 'cli']);
    t = await cliJson(['tickets', 'update', id, '-c', env.configPath, '--comment', 'A light agent note', '--author', 'lea@acme.test']);
    assert.deepEqual([t.comments.at(-1).public, t.comments.at(-1).visibility_rule], [false, 'R19']);
    t = await cliJson(['tickets', 'update', id, '-c', env.configPath, '--status', 'solved']);
    assert.equal(t.status, 'solved');
    t = await cliJson(['tickets', 'update', id, '-c', env.configPath, '--status', 'closed']);
    assert.equal(t.status, 'closed');
    const changes = t.audit.map((a: { change: string }) => a.change);
    for (const c of ['assignee_changed', 'group_changed', 'tags_added', 'follower_added', 'cc_added', 'cc_removed', 'follower_removed', 'private_note', 'status_changed']) assert.ok(changes.includes(c), c);
  });

  const refusals: Array<[string, string[], RegExp]> = [
    ['R30: an end user as follower', ['--add-follower', 'carol@customer.test'], /R30/],
    ['R3: a light agent as assignee', ['--assignee', 'lea@acme.test'], /not an agent/],
    ['an unknown group', ['--group', 'Sales'], /not a configured group/],
    ['R35: back to new', ['--status', 'new'], /never goes back to new/],
    ['R35: solving with no assignee and no agent author', ['--status', 'solved'], /needs an assignee/],
    ['R35: closing an open ticket', ['--status', 'closed'], /only a solved ticket/],
    ['R1: a support address as CC', ['--add-cc', 'support@acme.test'], /support address/],
    ['a comment with no author', ['--comment', 'hi'], /needs --author/],
    ['an end user as author', ['--comment', 'hi', '--author', 'carol@customer.test'], /not an agent/],
  ];
  for (const [name, args, message] of refusals) {
    it(`update refuses ${name}, changing nothing`, async () => {
      const id = String(await newTicket(env, `Refuse ${name}`));
      const before = await cliJson(['tickets', 'show', id, '-c', env.configPath]);
      const r = await runCli(['tickets', 'update', id, '-c', env.configPath, '--tag', 'x', ...args]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
      const after = await cliJson(['tickets', 'show', id, '-c', env.configPath]);
      assert.deepEqual(after, before);
    });
  }

  it('R14: a closed ticket refuses every update', async () => {
    const id = String(await newTicket(env, 'Closed one'));
    await cliJson(['tickets', 'update', id, '-c', env.configPath, '--status', 'solved', '--assignee', 'bob@acme.test']);
    await cliJson(['tickets', 'update', id, '-c', env.configPath, '--status', 'closed']);
    const r = await runCli(['tickets', 'update', id, '-c', env.configPath, '--tag', 'late']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /closed ticket never changes/);
  });
});

describe('deskgate failed list|retry (R8)', () => {
  let env: TestEnv;
  before(() => { env = makeEnv(); });
  after(() => env.cleanup());

  it('keeps an unprocessable message with its reason, and retry processes it once fixed', async () => {
    // No From and no envelope sender: the rules cannot place it.
    const raw = Buffer.from('To: support@acme.test\r\nSubject: anonymous\r\nMessage-ID: <anon-1@x.test>\r\n\r\nhello\r\n');
    const r = await runCli(['inject', '-c', env.configPath, '--json'], { input: raw });
    assert.equal(r.code, 0, 'stored, so the MTA is done with it');
    const out = JSON.parse(r.stdout) as { status: string; intake_id: number };
    assert.equal(out.status, 'failed');
    const failed = await cliJson<Array<{ id: number; error_code: string; message_id: string; raw_path: string }>>(['failed', 'list', '-c', env.configPath]);
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.error_code, 'RULES_NO_SENDER');
    assert.equal(failed[0]!.message_id, '<anon-1@x.test>');
    const human = await runCli(['failed', 'list', '-c', env.configPath]);
    assert.match(human.stdout, /RULES_NO_SENDER/);

    // A good message next to it is processed normally: one failure blocks nothing (R8).
    const r2 = await runCli(['inject', '-c', env.configPath, '--json'], { input: mail({ subject: 'Comes back' }) });
    const intake2 = (JSON.parse(r2.stdout) as { intake_id: number }).intake_id;
    const rows = await cliJson<Array<{ id: number }>>(['failed', 'list', '-c', env.configPath]);
    assert.equal(rows.length, 1, 'the good message is not failed');
    assert.ok(intake2 > 0);

    const retry = await runCli(['failed', 'retry', String(out.intake_id), '-c', env.configPath, '--json']);
    assert.equal(retry.code, 0, retry.stderr);
    assert.equal((JSON.parse(retry.stdout) as { status: string }).status, 'failed', 'still no sender: fails again, still kept');
    const notFailed = await runCli(['failed', 'retry', String(intake2), '-c', env.configPath]);
    assert.equal(notFailed.code, 1);
  });

  it('retry succeeds after the cause is fixed (raw file restored)', async () => {
    const { openDatabase } = await import('../../src/store/index.js');
    // Over 256 KB, so the raw bytes live in a file under data/raw rather than in the database.
    const r = await runCli(['inject', '-c', env.configPath, '--json'], { input: mail({ subject: 'Fragile', body: 'y'.repeat(76).concat('\n').repeat(4000) }) });
    const intakeId = (JSON.parse(r.stdout) as { intake_id: number }).intake_id;
    const db = openDatabase(env.config.data_dir);
    const rawPath = db.prepare('SELECT raw_path FROM intake WHERE id = ?').pluck().get(intakeId) as string;
    assert.ok(rawPath, 'a large message is spooled to a file');
    // Put it back in the queue with its file gone: processing must fail, not crash or lose the row.
    db.prepare("UPDATE intake SET status = 'failed' WHERE id = ?").run(intakeId);
    db.prepare("DELETE FROM comments WHERE intake_id = ?").run(intakeId);
    db.close();
    const abs = join(env.config.data_dir, rawPath);
    renameSync(abs, `${abs}.away`);
    const bad = JSON.parse((await runCli(['failed', 'retry', String(intakeId), '-c', env.configPath, '--json'])).stdout) as { status: string; error: string };
    assert.equal(bad.status, 'failed');
    assert.match(bad.error, /ENOENT/);
    renameSync(`${abs}.away`, abs);
    const good = JSON.parse((await runCli(['failed', 'retry', String(intakeId), '-c', env.configPath, '--json'])).stdout) as { status: string; ticket_id: number };
    assert.equal(good.status, 'done');
    assert.ok(good.ticket_id > 0);
  });
});
