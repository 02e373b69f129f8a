import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { spawnServe, waitExit, startTestDaemon } from '../helpers/daemon.js';
import { SmtpClient } from '../helpers/smtp.js';
import { mail } from '../helpers/mail.js';
import { openDatabase } from '../../src/store/index.js';

/** Waits for the socket to close; returns ms from `since`, or throws past `limitMs`. */
async function closedWithin(c: SmtpClient, since: number, limitMs: number): Promise<number> {
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${limitMs} ms`)), limitMs).unref());
  await Promise.race([c.closedPromise, timer]);
  return Date.now() - since;
}

async function inData(port: number): Promise<SmtpClient> {
  const c = await SmtpClient.connect(port);
  await c.cmd('EHLO slow.test');
  await c.cmd('MAIL FROM:<carol@customer.test>');
  await c.cmd(`RCPT TO:<${SUPPORT}>`);
  assert.match(await c.cmd('DATA'), /^354/);
  return c;
}

describe('SIGTERM with sessions connected', () => {
  const envs: TestEnv[] = [];
  after(() => { for (const e of envs) e.cleanup(); });

  it('an idle client gets 421 4.3.2 and its socket is closed at once; serve exits in under 2 s (default close_timeout 10s)', async () => {
    const env = makeEnv((c) => { c.log = { level: 'info' }; });
    envs.push(env);
    const s = await spawnServe(env.configPath);
    const idle = await SmtpClient.connect(s.port);
    await idle.cmd('EHLO idle.test');
    // A client that never closes its side: smtp-server alone would wait 5 s more for it.
    const halfOpen = createConnection({ host: '127.0.0.1', port: s.port, allowHalfOpen: true });
    let heard = '';
    halfOpen.setEncoding('utf8').on('data', (d: string) => { heard += d; });
    const ended = new Promise<void>((resolve) => halfOpen.once('end', () => resolve()));
    await waitFor(() => heard.startsWith('220 '), 'greeting on the half-open socket');
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    assert.match(await idle.reply(), /^421 4\.3\.2 /);
    const closedMs = await closedWithin(idle, t0, 1500);
    await ended;
    assert.match(heard, /\r\n421 4\.3\.2 /);
    assert.equal(await waitExit(s.child, 10_000), 0);
    const exitMs = Date.now() - t0;
    halfOpen.destroy();
    assert.ok(exitMs <= 2000, `serve took ${exitMs} ms to exit (socket closed after ${closedMs} ms)`);
  });

  it('a client in DATA finishes within close_timeout and gets its 250, while an idle one is let go at once', async () => {
    const env = makeEnv((c) => { c.log = { level: 'info' }; (c.smtp as Record<string, unknown>).close_timeout = '5s'; });
    envs.push(env);
    const s = await spawnServe(env.configPath);
    const busy = await inData(s.port);
    const idle = await SmtpClient.connect(s.port);
    const raw = mail({ messageId: '<in-flight@customer.test>', subject: 'In flight' }).toString('binary');
    const half = Math.floor(raw.length / 2);
    busy.write(raw.slice(0, half));
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    assert.match(await idle.reply(), /^421 4\.3\.2 /);
    await closedWithin(idle, t0, 1500);
    await new Promise((r) => setTimeout(r, 1000)); // the rest of the message comes later, within close_timeout
    busy.write(raw.slice(half) + '\r\n.\r\n');
    assert.match(await busy.reply(), /^250 2\.0\.0 Ok: queued as \d+/, 'the message in flight is accepted');
    assert.match(await busy.reply(), /^421 4\.3\.2 /, 'then the session is ended');
    await closedWithin(busy, t0, 3000);
    assert.equal(await waitExit(s.child, 10_000), 0);
    const exitMs = Date.now() - t0;
    assert.ok(exitMs < 3000, `serve took ${exitMs} ms to exit after the last message`);
    const db = openDatabase(env.config.data_dir);
    try {
      assert.equal(db.prepare('SELECT count(*) FROM intake WHERE message_id = ?').pluck().get('<in-flight@customer.test>'), 1);
    } finally {
      db.close();
    }
  });

  it('a message still unfinished at close_timeout gets 421 (not acknowledged, so not lost: the client retries) and stop() ends', async () => {
    const env = makeEnv();
    envs.push(env);
    const d = await startTestDaemon(env); // close_timeout 2 s in tests
    const busy = await inData(d.port);
    busy.write(mail({ messageId: '<never-finished@customer.test>' }).toString('binary').slice(0, 100));
    const t0 = Date.now();
    await d.stop();
    const stopMs = Date.now() - t0;
    assert.match(await busy.reply(), /^421 4\.3\.2 /);
    await closedWithin(busy, t0, 3000);
    assert.ok(stopMs >= 1900 && stopMs < 3000, `stop took ${stopMs} ms with close_timeout 2000`);
  });

  it('startDaemon + stop with idle clients connected returns at once', async () => {
    const env = makeEnv();
    envs.push(env);
    const d = await startTestDaemon(env);
    const clients = [await SmtpClient.connect(d.port), await SmtpClient.connect(d.port)];
    await clients[0]!.cmd('EHLO a.test');
    await clients[1]!.cmd('MAIL FROM:<carol@customer.test>'); // in a transaction but not in DATA
    const t0 = Date.now();
    await d.stop();
    const stopMs = Date.now() - t0;
    for (const c of clients) {
      assert.match(await c.reply(), /^421 4\.3\.2 /);
      await closedWithin(c, t0, 1000);
    }
    assert.ok(stopMs < 1000, `stop took ${stopMs} ms`);
  });
});
