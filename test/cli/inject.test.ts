import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { makeEnv, baseConfig, SUPPORT, type TestEnv } from '../helpers/env.js';
import { runCli, cliJson } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';

describe('deskgate inject: pipe intake (R5, R6, R7)', () => {
  let env: TestEnv;
  before(() => { env = makeEnv(); });
  after(() => env.cleanup());

  it('exit 0: stores the message from stdin and makes a ticket (via pipe)', async () => {
    const r = await runCli(['inject', '-c', env.configPath, '--json'], { input: mail({ subject: 'Piped in' }) });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { status: string; ticket_id: number; duplicate: boolean };
    assert.equal(out.status, 'done');
    assert.equal(out.duplicate, false);
    const t = await cliJson(['tickets', 'show', String(out.ticket_id), '-c', env.configPath]);
    assert.equal(t.subject, 'Piped in');
    assert.equal(t.via, 'pipe');
    assert.equal(t.recipient, SUPPORT);
  });

  it('R7: the same file injected twice is one comment', async () => {
    const file = join(env.dir, 'twice.eml');
    const id = uniqueId('pipe');
    writeFileSync(file, mail({ messageId: id, subject: 'Twice' }));
    const a = await runCli(['inject', file, '-c', env.configPath, '--json']);
    const b = await runCli(['inject', file, '-c', env.configPath, '--json']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const first = JSON.parse(a.stdout) as { ticket_id: number; intake_id: number };
    const second = JSON.parse(b.stdout) as { ticket_id: number; intake_id: number; duplicate: boolean };
    assert.equal(second.duplicate, true);
    assert.equal(second.intake_id, first.intake_id);
    const t = await cliJson(['tickets', 'show', String(first.ticket_id), '-c', env.configPath]);
    assert.equal(t.comments.filter((c: { message_id: string }) => c.message_id === id).length, 1);
    const all = await cliJson<Array<{ subject: string }>>(['tickets', 'list', '-c', env.configPath]);
    assert.equal(all.filter((x) => x.subject === 'Twice').length, 1);
  });

  it('R7: a message without Message-ID is deduplicated by its bytes', async () => {
    const raw = mail({ messageId: null, subject: 'No id' });
    const a = JSON.parse((await runCli(['inject', '-c', env.configPath, '--json'], { input: raw })).stdout) as { intake_id: number; message_id: null };
    const b = JSON.parse((await runCli(['inject', '-c', env.configPath, '--json'], { input: raw })).stdout) as { intake_id: number; duplicate: boolean };
    assert.equal(a.message_id, null);
    assert.equal(b.duplicate, true);
    assert.equal(b.intake_id, a.intake_id);
  });

  it('exit 67: --recipient that is not a support address (R5)', async () => {
    const r = await runCli(['inject', '-c', env.configPath, '--recipient', 'sales@acme.test'], { input: mail() });
    assert.equal(r.code, 67);
    assert.match(r.stderr, /not a support address: sales@acme\.test/);
  });

  it('exit 67: no support address in the headers and no --recipient', async () => {
    const r = await runCli(['inject', '-c', env.configPath], { input: mail({ to: 'someone@else.test' }) });
    assert.equal(r.code, 67);
  });

  it('uses Delivered-To / plus-addresses to find the support address', async () => {
    const r = await runCli(['inject', '-c', env.configPath, '--json'], { input: mail({ to: 'list@lists.test', headers: { 'Delivered-To': 'billing+x@acme.test' } }) });
    assert.equal(r.code, 0, r.stderr);
    const t = await cliJson(['tickets', 'show', String((JSON.parse(r.stdout) as { ticket_id: number }).ticket_id), '-c', env.configPath]);
    assert.equal(t.recipient, 'billing@acme.test');
  });

  it('exit 75: a temporary failure (data directory unusable) asks the MTA to retry', async () => {
    const blocker = join(env.dir, 'not-a-dir');
    writeFileSync(blocker, 'x');
    const cfg = baseConfig();
    cfg.data_dir = join(blocker, 'data');
    const path = join(env.dir, 'broken-data.yaml');
    writeFileSync(path, stringify(cfg));
    const r = await runCli(['inject', '-c', path], { input: mail() });
    assert.equal(r.code, 75, r.stderr);
    assert.match(r.stderr, /temporary failure/);
  });

  it('exit 75, not 78: an invalid config (an MTA bounces 78; see inject-pipe.test.ts)', async () => {
    const dir = join(env.dir, 'bad');
    mkdirSync(dir);
    writeFileSync(join(dir, 'c.yaml'), 'support_addresses: []\n');
    const r = await runCli(['inject', '-c', join(dir, 'c.yaml')], { input: mail() });
    assert.equal(r.code, 75, r.stderr);
    assert.match(r.stderr, /config/);
  });
});
