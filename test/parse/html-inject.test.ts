import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, type TestEnv } from '../helpers/env.js';
import { runCli, cliJson } from '../helpers/daemon.js';
import { mail } from '../helpers/mail.js';

/** A single-part HTML mail (no text/plain part: R61 converts the HTML). */
const htmlMail = (html: string) => mail({ subject: 'HTML bomb', contentType: 'text/html; charset=utf-8', body: html });

describe('R61 end to end: deskgate inject of deeply nested HTML-only mail (issue 13.3)', () => {
  let env: TestEnv;
  before(() => { env = makeEnv((c) => { c.log = { level: 'warn', format: 'json' }; }); });
  after(() => env.cleanup());

  it('R8, R61: becomes a ticket whose comment has flags ["html_simplified"] and the text as its body', { timeout: 60_000 }, async () => {
    const html = `<p>Please help, the printer is on fire.</p>${'<div>'.repeat(20_000)}Carol${'</div>'.repeat(20_000)}`;
    const r = await runCli(['inject', '-c', env.configPath, '--json'], { input: htmlMail(html) });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { status: string; ticket_id: number };
    assert.equal(out.status, 'done');
    const t = await cliJson(['tickets', 'show', String(out.ticket_id), '-c', env.configPath]);
    assert.equal(t.comments.length, 1);
    assert.deepEqual(t.comments[0].flags, ['html_simplified']);
    assert.equal(t.comments[0].body, 'Please help, the printer is on fire.\nCarol');
    assert.equal(t.comments[0].html_body, null);
    // The reason goes to the JSON log (stderr), never as a bare line; stdout stays the result.
    const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { event?: string; flags?: string[]; notes?: string[] });
    const note = lines.find((l) => l.event === 'parse:html_limited');
    assert.deepEqual(note?.flags, ['html_simplified']);
    assert.match(note!.notes![0]!, /nested deeper than 1000/);
  });
});
