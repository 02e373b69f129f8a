import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, cliJson } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import { freePort } from '../helpers/net.js';
import { PrivatePostfix, postfixUnavailable } from '../helpers/postfix.js';
import type { Daemon } from '../../src/daemon.js';

/**
 * deskgate behind a real Postfix, as the admin guide sets it up: Postfix is the MX and relays
 * the support domain to deskgate's SMTP listener (a private `postfix -c` instance, loopback only).
 */
const why = postfixUnavailable();
const skip = why ? `needs a private Postfix: ${why}` : false;
if (why) console.log(`# skipped: Postfix in front of deskgate: ${why}`);

type Ticket = { id: number; subject: string };

describe('Postfix in front of deskgate (R5, R6, R7)', { skip }, () => {
  let env: TestEnv;
  let d: (Daemon & { port: number }) | undefined;
  let pf: PrivatePostfix;
  let port: number;
  before(async () => {
    port = await freePort();
    env = makeEnv((c) => { (c.smtp as { listen: unknown }).listen = [{ host: '127.0.0.1', port }]; });
    d = await startTestDaemon(env);
    pf = await new PrivatePostfix({ relayPort: port }).start();
  });
  after(async () => {
    await pf?.stop();
    await d?.stop();
    env?.cleanup();
  });

  const ticketTitled = (subject: string) => waitFor(async () => (await cliJson<Ticket[]>(['tickets', 'list', '-c', env.configPath])).find((t) => t.subject === subject), `a ticket "${subject}"`, 30_000);
  const queueEmpty = () => waitFor(async () => (await pf.queued(SUPPORT)) === 0 || undefined, 'Postfix to hand on every message for the support address', 30_000);

  it('R5, R6: mail relayed by Postfix becomes one ticket, with Postfix\'s Received line kept', async () => {
    const id = uniqueId('pf');
    assert.match(await sendMail(pf.port, SUPPORT, mail({ messageId: id, subject: 'Relayed by the MX' })), /^250 /);
    const t = await ticketTitled('Relayed by the MX');
    await queueEmpty();
    assert.match(pf.log(), /status=sent \(250 2\.0\.0 Ok: queued as \d+\)/, 'Postfix logged deskgate\'s 250');
    const shown = await cliJson<{ requester: { email: string }; comments: Array<{ body: string }> }>(['tickets', 'show', String(t.id), '-c', env.configPath]);
    assert.equal(shown.requester.email, 'carol@customer.test');
    const row = await d!.app.sql.get<{ n: number }>('SELECT count(*) AS n FROM comments WHERE message_id = ?', [id]);
    assert.equal(row?.n, 1);
    const intakeId = await d!.app.sql.value<number>('SELECT id FROM intake WHERE message_id = ?', [id]);
    const raw = String(await d!.app.intake.rawBytes(intakeId!));
    assert.match(raw, /^Received: from mx\.deskgate\.test \(\[127\.0\.0\.1\]\)\s+by mx\.acme\.test \(deskgate\)/m, 'deskgate\'s own Received line names the MX');
    assert.match(raw, /^Received: from client\.test \(localhost \[127\.0\.0\.1\]\)\s+by mx\.deskgate\.test \(Postfix\)/m, 'Postfix\'s Received line is kept');
  });

  it('R5: an unknown recipient is refused by deskgate (550 5.1.1) and bounced by Postfix; nothing is stored', async () => {
    const id = uniqueId('pf-unknown');
    assert.match(await sendMail(pf.port, 'nobody@acme.test', mail({ messageId: id, to: 'nobody@acme.test', subject: 'To nobody' })), /^250 /, 'the MX accepts for its relay domain');
    await waitFor(() => /to=<nobody@acme\.test>.*status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1/.exec(pf.log()), 'Postfix to log the bounce', 30_000);
    const n = await d!.app.sql.value<number>('SELECT count(*) FROM intake WHERE message_id = ?', [id]);
    assert.equal(n, 0);
  });

  it('R6, R7: while deskgate is down Postfix keeps the mail; once it is back the mail arrives once', async () => {
    await d!.stop();
    d = undefined;
    const id = uniqueId('pf-down');
    assert.match(await sendMail(pf.port, SUPPORT, mail({ messageId: id, subject: 'Sent while deskgate was down' })), /^250 /);
    await waitFor(() => /status=deferred \(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: Connection refused\)/.test(pf.log()) || undefined, 'Postfix to defer it', 30_000);
    assert.equal(await pf.queued(SUPPORT), 1, 'kept in Postfix\'s queue');
    d = await startTestDaemon(env);
    await pf.flush();
    const t = await ticketTitled('Sent while deskgate was down');
    await queueEmpty();
    const n = await d.app.sql.value<number>('SELECT count(*) FROM comments WHERE message_id = ?', [id]);
    assert.equal(n, 1, 'one comment, one ticket');
    assert.ok(t.id > 0);
  });

  it('Postfix logged no warning about the SMTP conversation with deskgate', () => {
    const warnings = pf.log().split('\n').filter((l) => /warning:/i.test(l) && /smtp|protocol|lost connection|unexpected|127\.0\.0\.1/i.test(l));
    assert.deepEqual(warnings, []);
  });
});
