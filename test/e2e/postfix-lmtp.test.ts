import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, cliJson } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import { freePort } from '../helpers/net.js';
import { PrivatePostfix, postfixUnavailable } from '../helpers/postfix.js';
import type { Daemon } from '../../src/daemon.js';

/**
 * R73: a real Postfix hands the support domain to deskgate over LMTP on a Unix socket
 * (relay_transport = lmtp:unix:PATH), as the admin guide sets it up. The socket is owned by
 * Postfix's user with mode 0600, so only Postfix's lmtp(8) client (and root) can connect.
 */
const why = postfixUnavailable();
const skip = why ? `needs a private Postfix: ${why}` : false;
if (why) console.log(`# skipped: Postfix delivering to deskgate by LMTP: ${why}`);

type Ticket = { id: number; subject: string };

describe('Postfix delivering to deskgate by LMTP (R73, R5, R6, R7)', { skip }, () => {
  let env: TestEnv;
  let d: (Daemon & { port: number }) | undefined;
  let pf: PrivatePostfix;
  let runDir: string;
  let socket: string;
  const start = () => startTestDaemon(env, { parseWorkers: 1 });
  before(async () => {
    // Postfix's own user walks to the socket: its directory is not the test's private temp dir.
    runDir = mkdtempSync(join(tmpdir(), 'dg-lmtp-'));
    chmodSync(runDir, 0o755);
    socket = join(runDir, 'lmtp.sock');
    env = makeEnv((c) => { c.lmtp = { listen: [{ path: socket, mode: '0600', owner: 'postfix' }] }; });
    d = await start();
    pf = await new PrivatePostfix({ relayPort: await freePort(), lmtp: socket }).start();
  });
  after(async () => {
    await pf?.stop();
    await d?.stop();
    env?.cleanup();
    rmSync(runDir, { recursive: true, force: true });
  });

  const ticketTitled = (subject: string) => waitFor(async () => (await cliJson<Ticket[]>(['tickets', 'list', '-c', env.configPath])).find((t) => t.subject === subject), `a ticket "${subject}"`, 30_000);
  const queueEmpty = () => waitFor(async () => (await pf.queued(SUPPORT)) === 0 || undefined, 'Postfix to hand on every message for the support address', 30_000);
  const comments = (id: string) => d!.app.sql.value<number>('SELECT count(*) FROM comments WHERE message_id = ?', [id]);

  it('R73: the socket belongs to Postfix\'s user with mode 0600', () => {
    const st = statSync(socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.notEqual(st.uid, 0, 'chowned to the postfix user');
  });

  it('R73, R6: mail sent into Postfix becomes one ticket over LMTP, with a Received line that says LMTP', async () => {
    const id = uniqueId('pf-lmtp');
    assert.match(await sendMail(pf.port, SUPPORT, mail({ messageId: id, subject: 'Delivered by LMTP' })), /^250 /);
    await ticketTitled('Delivered by LMTP');
    await queueEmpty();
    assert.match(pf.log(), /relay=[^ ]*lmtp\.sock[^ ]*, .*status=sent \(250 2\.0\.0 Ok: queued as \d+\)/, 'Postfix logged deskgate\'s LMTP 250');
    assert.equal(await comments(id), 1);
    const intakeId = await d!.app.sql.value<number>('SELECT id FROM intake WHERE message_id = ?', [id]);
    assert.equal((await d!.app.intake.get(intakeId!))!.via, 'lmtp');
    const raw = String(await d!.app.intake.rawBytes(intakeId!));
    assert.match(raw, /^Received: from mx\.deskgate\.test \(local\)\s+by mx\.acme\.test \(deskgate\) with LMTP/m);
  });

  it('R73, R5: of two recipients, the unknown one gets its own 550 and is bounced by Postfix; the other is delivered once', async () => {
    const id = uniqueId('pf-lmtp-two');
    const reply = await sendMail(pf.port, [SUPPORT, 'nobody@acme.test'], mail({ messageId: id, to: `${SUPPORT}, nobody@acme.test`, subject: 'One known, one not' }));
    assert.match(reply, /^250 /);
    await ticketTitled('One known, one not');
    await waitFor(() => /to=<nobody@acme\.test>.*status=bounced \(host [^ ]*lmtp\.sock[^ ]* said: 550 5\.1\.1/.exec(pf.log()), 'Postfix to bounce the unknown recipient', 30_000);
    await queueEmpty();
    assert.equal(await comments(id), 1);
  });

  it('R6, R7: while deskgate is down Postfix keeps the mail; after the restart it arrives once', async () => {
    await d!.stop();
    d = undefined;
    const id = uniqueId('pf-lmtp-down');
    assert.match(await sendMail(pf.port, SUPPORT, mail({ messageId: id, subject: 'Sent while deskgate was down (LMTP)' })), /^250 /);
    await waitFor(() => /to=<support@acme\.test>.*relay=none.*status=deferred .*lmtp\.sock/.test(pf.log()) || undefined, 'Postfix to defer it', 30_000);
    assert.equal(await pf.queued(SUPPORT), 1, 'kept in Postfix\'s queue');
    d = await start();
    await pf.flush();
    await ticketTitled('Sent while deskgate was down (LMTP)');
    await queueEmpty();
    assert.equal(await comments(id), 1, 'one comment, one ticket');
  });

  it('R73: Postfix logged no warning about the LMTP conversation', () => {
    const warnings = pf.log().split('\n').filter((l) => /warning:/i.test(l) && /lmtp|protocol|lost connection|unexpected/i.test(l));
    assert.deepEqual(warnings, []);
  });
});
