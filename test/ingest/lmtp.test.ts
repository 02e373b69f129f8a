import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { makeEnv, waitFor, SUPPORT, BILLING, type TestEnv } from '../helpers/env.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { SmtpClient } from '../helpers/smtp.js';
import type { Daemon } from '../../src/daemon.js';

/** R73: LMTP (RFC 2033) on a Unix socket and a TCP port, over real sockets, into the same intake as SMTP. */
describe('LMTP listener (R73)', () => {
  let env: TestEnv;
  let d: Daemon & { port: number };
  let socketPath: string;
  let lmtpPort: number;

  before(async () => {
    env = makeEnv((c) => {
      (c.smtp as Record<string, unknown>).max_recipients = 2;
      c.lmtp = { listen: [{ path: '/tmp/placeholder', mode: '0620' }, { host: '127.0.0.1', port: 0 }] };
    });
    socketPath = join(env.dir, 'run', 'lmtp.sock');
    const config = { ...env.config, lmtp: { ...env.config.lmtp!, listen: [{ path: socketPath, mode: '0620' }, { host: '127.0.0.1', port: 0 }] } };
    d = await startTestDaemon({ ...env, config }, { parseWorkers: 1 });
    lmtpPort = d.lmtp!.addresses()[0]!.port;
  });
  after(async () => {
    await d.stop();
    env.cleanup();
  });

  /** Waits for an intake row to be processed; returns it. */
  const processed = (id: number) => waitFor(async () => {
    const r = await d.app.intake.get(id);
    return r && r.status !== 'received' && r.status !== 'processing' ? r : undefined;
  }, `intake ${id} processed`);
  const queuedAs = (reply: string) => Number(/queued as (\d+)/.exec(reply)?.[1]);
  /** One LMTP session (LHLO done) on the socket, or on the TCP port when given, closed afterwards. */
  async function session<T>(fn: (c: SmtpClient) => Promise<T>, port?: number): Promise<T> {
    const c = port === undefined ? await SmtpClient.connectPath(socketPath) : await SmtpClient.connect(port);
    try {
      await c.cmd('LHLO mta.acme.test');
      return await fn(c);
    } finally {
      await c.quit();
    }
  }

  it('R73: the socket exists with the configured mode; the greeting says LMTP and LHLO is the hello (EHLO is refused)', async () => {
    const st = statSync(socketPath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o620);
    const c = await SmtpClient.connectPath(socketPath);
    try {
      assert.match(c.greeting, /^220 .*LMTP/);
      assert.match(await c.cmd('EHLO mta.acme.test'), /^5\d\d /);
      assert.match(await c.cmd('LHLO mta.acme.test'), /^250 /);
    } finally {
      await c.quit();
    }
  });

  it('R73, R5, R7: one reply per accepted recipient after DATA; an unknown recipient gets 550 at RCPT; one ticket for the message, via lmtp', async () => {
    await session(async (c) => {
      assert.match(await c.cmd('MAIL FROM:<carol@customer.test>'), /^250 /);
      assert.match(await c.cmd(`RCPT TO:<${SUPPORT}>`), /^250 /);
      assert.match(await c.cmd('RCPT TO:<nobody@elsewhere.test>'), /^550 5\.1\.1 /);
      assert.match(await c.cmd(`RCPT TO:<${BILLING}>`), /^250 /);
      const replies = await c.lmtpData(mail({ messageId: uniqueId('lmtp'), subject: 'Printer on fire', to: `${SUPPORT}, ${BILLING}` }), 2);
      assert.equal(replies.length, 2);
      for (const r of replies) assert.match(r, /^250 2\.0\.0 Ok: queued as \d+$/);
      assert.equal(queuedAs(replies[0]!), queuedAs(replies[1]!), 'both recipients name the one stored message');
      const row = await processed(queuedAs(replies[0]!));
      assert.equal(row.status, 'done', row.error ?? '');
      assert.equal(row.via, 'lmtp');
      assert.deepEqual(row.envelope_to, [SUPPORT, BILLING]);
      const t = (await d.app.views.show(row.ticket_id!))!;
      assert.equal(t.via, 'lmtp');
      assert.equal(t.subject, 'Printer on fire');
      const raw = (await d.app.raw.read(row.raw_path ?? '').catch(() => undefined)) ?? (await d.app.intake.rawBytes(row.id))!;
      assert.match(raw.toString('latin1'), /^Received: from mta\.acme\.test \(local\)\r\n\tby mx\.acme\.test \(deskgate\) with LMTP id /);
    });
  });

  it('R73, R7: the same message delivered again (over TCP this time) is a duplicate: 250, nothing new stored', async () => {
    const id = uniqueId('lmtp-dup');
    const raw = mail({ messageId: id, subject: 'Twice' });
    const send = () => session(async (c) => {
      await c.cmd('MAIL FROM:<carol@customer.test>');
      await c.cmd(`RCPT TO:<${SUPPORT}>`);
      return (await c.lmtpData(raw, 1))[0]!;
    }, lmtpPort);
    const first = await send();
    assert.match(first, /^250 .*queued as \d+$/);
    await processed(queuedAs(first));
    const again = await send();
    assert.match(again, /^250 .*queued as \d+ \(duplicate\)$/);
    assert.equal(queuedAs(again), queuedAs(first));
    assert.equal(await d.app.sql.value('SELECT count(*) FROM intake WHERE message_id = ?', [id]), 1);
  });

  it('R73: a recipient given twice gets two 250s at RCPT and two replies after DATA (RFC 2033), one message stored', async () => {
    await session(async (c) => {
      await c.cmd('MAIL FROM:<carol@customer.test>');
      assert.match(await c.cmd(`RCPT TO:<${SUPPORT}>`), /^250 /);
      assert.match(await c.cmd(`RCPT TO:<${SUPPORT.toUpperCase()}>`), /^250 /);
      const replies = await c.lmtpData(mail({ messageId: uniqueId('lmtp-twice') }), 2);
      assert.deepEqual(replies.map((r) => r.slice(0, 3)), ['250', '250']);
      // The session is in step: the next command gets its own answer.
      assert.match(await c.cmd('NOOP'), /^250 /);
    });
  });

  it('R73: a recipient past smtp.max_recipients gets 452 and the others are delivered', async () => {
    await session(async (c) => {
      await c.cmd('MAIL FROM:<carol@customer.test>');
      assert.match(await c.cmd(`RCPT TO:<${SUPPORT}>`), /^250 /);
      assert.match(await c.cmd(`RCPT TO:<${BILLING}>`), /^250 /);
      assert.match(await c.cmd('RCPT TO:<support+extra@acme.test>'), /^452 4\.5\.3 /);
      const replies = await c.lmtpData(mail({ messageId: uniqueId('lmtp-many') }), 2);
      assert.deepEqual(replies.map((r) => r.slice(0, 3)), ['250', '250']);
    });
  });

  it('R73, R42: a message with an empty return path (MAIL FROM:<>) is held as an automated response, not a ticket', async () => {
    await session(async (c) => {
      await c.cmd('MAIL FROM:<>');
      await c.cmd(`RCPT TO:<${SUPPORT}>`);
      const [reply] = await c.lmtpData(mail({ messageId: uniqueId('lmtp-null'), subject: 'Out of office' }), 1);
      assert.match(reply!, /^250 /);
      const row = await processed(queuedAs(reply!));
      assert.equal(row.status, 'suspended');
      assert.equal(row.ticket_id, null);
    });
  });

  it('R73: the SMTP listener is unaffected (it still speaks ESMTP and refuses LHLO)', async () => {
    const c = await SmtpClient.connect(d.port);
    try {
      assert.match(c.greeting, /ESMTP/);
      assert.match(await c.cmd('EHLO client.test'), /^250 /);
      assert.match(await c.cmd('LHLO client.test'), /^5\d\d /);
    } finally {
      await c.quit();
    }
  });

  it('R73: a listen entry that cannot be used stops the start with INGEST_LISTEN, and the ones before it are closed again', async () => {
    const { writeFileSync, existsSync } = await import('node:fs');
    const { startDaemon } = await import('../../src/daemon.js');
    const { silentLogger } = await import('../../src/shared/logger.js');
    const good = join(env.dir, 'run', 'first.sock');
    const notASocket = join(env.dir, 'run', 'config-file');
    writeFileSync(notASocket, 'keep me');
    const config = { ...env.config, processing: { ...env.config.processing, workers: 0 }, smtp: { ...env.config.smtp, listen: [{ host: '127.0.0.1', port: 0 }] },
      lmtp: { ...env.config.lmtp!, listen: [{ path: good, mode: '0660' }, { path: notASocket, mode: '0660' }] } };
    await assert.rejects(startDaemon(config, { logger: silentLogger() }), (err: unknown) => (err as { code?: string }).code === 'INGEST_LISTEN' && /is not a socket/.test((err as Error).message));
    assert.equal(existsSync(good), false, 'the first socket was closed (and its file removed)');
    assert.equal(existsSync(notASocket), true);
  });
});

/** R73 against the rules it sets aside: the MTA in front made SMTP's checks, and its Authentication-Results are the ones to trust. */
describe('LMTP and the SMTP-time checks (R73, R43, R44, R45)', () => {
  let env: TestEnv;
  let d: Daemon & { port: number };
  let lmtpPort: number;
  before(async () => {
    env = makeEnv((c) => {
      c.limits = { ...(c.limits as object | undefined), per_sender_per_hour: 1 };
      c.trust = { verify: true, trusted_authserv_id: 'mail.acme.test' };
      c.lmtp = { listen: [{ host: '127.0.0.1', port: 0 }] };
    });
    d = await startTestDaemon(env, { parseWorkers: 1 });
    lmtpPort = d.lmtp!.addresses()[0]!.port;
  });
  after(async () => {
    await d.stop();
    env.cleanup();
  });
  const deliver = async (raw: Buffer, from: string, port = lmtpPort, hello = 'LHLO') => {
    const c = await SmtpClient.connect(port);
    try {
      await c.cmd(`${hello} mta.acme.test`);
      await c.cmd(`MAIL FROM:<${from}>`);
      await c.cmd(`RCPT TO:<${SUPPORT}>`);
      return hello === 'LHLO' ? (await c.lmtpData(raw, 1))[0]! : await c.data(raw);
    } finally {
      await c.quit();
    }
  };
  const outcome = (reply: string) => waitFor(async () => {
    const r = await d.app.intake.get(Number(/queued as (\d+)/.exec(reply)![1]));
    return r && r.status !== 'received' && r.status !== 'processing' ? r : undefined;
  }, 'processed');

  it('R43, R73: a sender past twice its hourly limit is refused over SMTP (450) but not over LMTP, where the MTA already took the mail', async () => {
    const from = 'flood@customer.test';
    const replies: string[] = [];
    for (let i = 0; i < 3; i++) replies.push(await deliver(mail({ from: `Flood <${from}>`, messageId: uniqueId('lmtp-r43') }), from));
    assert.deepEqual(replies.map((r) => r.slice(0, 3)), ['250', '250', '250']);
    const smtp = await deliver(mail({ from: `Flood <${from}>`, messageId: uniqueId('smtp-r43') }), from, d.port, 'EHLO');
    assert.match(smtp, /^450 4\.7\.1 /, 'the same sender over SMTP is refused');
  });

  it('R45, R73: a bare LF in the data is the MTA\'s to refuse: over LMTP it is stored, over SMTP refused (554)', async () => {
    const raw = Buffer.from(`From: Carol <carol@customer.test>\r\nTo: ${SUPPORT}\r\nSubject: bare LF\r\nMessage-ID: ${uniqueId('lmtp-lf')}\r\n\r\nline one\nline two\r\n`);
    const send = async (port: number, hello: string) => {
      const c = await SmtpClient.connect(port);
      try {
        await c.cmd(`${hello} mta.acme.test`);
        await c.cmd('MAIL FROM:<carol@customer.test>');
        await c.cmd(`RCPT TO:<${SUPPORT}>`);
        assert.match(await c.cmd('DATA'), /^354/);
        c.write(Buffer.concat([raw, Buffer.from('.\r\n')]));
        return await c.reply();
      } finally {
        await c.quit();
      }
    };
    assert.match(await send(lmtpPort, 'LHLO'), /^250 /);
    assert.match(await send(d.port, 'EHLO'), /^554 5\.5\.2 /);
  });

  it('R44, R73: an agent\'s LMTP mail takes the trusted server\'s Authentication-Results (deskgate cannot check SPF behind the MTA); a forged one is held', async () => {
    const good = await deliver(mail({ from: 'Bob <bob@acme.test>', subject: 'Internal note', messageId: uniqueId('lmtp-r44'),
      headers: { 'Authentication-Results': 'mail.acme.test; spf=pass smtp.mailfrom=acme.test; dkim=pass header.d=acme.test; dmarc=pass header.from=acme.test' } }), 'bob@acme.test');
    const ok = await outcome(good);
    assert.equal(ok.status, 'done', ok.error ?? '');
    assert.deepEqual((await d.app.views.show(ok.ticket_id!))!.comments![0]!.auth, { spf: 'pass', dkim: 'pass', dmarc: 'pass' });
    // Another agent (limits.per_sender_per_hour is 1 here, for the R43 test): Alice.
    const forged = await outcome(await deliver(mail({ from: 'Alice <alice@acme.test>', subject: 'Forged', messageId: uniqueId('lmtp-r44-forged'),
      headers: { 'Authentication-Results': 'evil.test; dmarc=pass' } }), 'alice@acme.test'));
    assert.deepEqual([forged.status, forged.error_code], ['suspended', 'unverified_agent']);
  });
});
