import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, spawnServe, waitExit } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import { SmtpSink } from '../helpers/sink.js';
import { openDatabase, sqliteSql, createOutboxRepo } from '../../src/store/index.js';
import { afterFailure } from '../../src/outbound/index.js';

const fastRetry = (port: number) => ({ smtp: { host: '127.0.0.1', port, secure: false }, retry_initial: '100ms', retry_max: '300ms', retry_for: '1h' });

describe('durable outbound queue (R59)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => { for (const c of cleanups.reverse()) await c(); });

  it('R59: 451 from the smarthost defers with attempts; after recovery each message is delivered exactly once', async () => {
    const sink = await new SmtpSink().start();
    cleanups.push(() => sink.stop());
    sink.mode = 'tempfail';
    const env: TestEnv = makeEnv((c) => { c.outbound = fastRetry(sink.port); });
    cleanups.push(() => env.cleanup());
    const d = await startTestDaemon(env);
    cleanups.push(() => d.stop());
    assert.match(await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('tf') })), /^250/);
    const receipt = await waitFor(async () => (await d.app.outbox.list()).find((r) => r.trigger === 'notify-requester-received' && r.attempts >= 2), 'two failed attempts');
    assert.equal(receipt.status, 'deferred');
    assert.match(receipt.last_error!, /451/);
    sink.mode = 'accept';
    await waitFor(async () => (await d.app.outbox.list()).every((r) => r.status === 'sent'), 'all sent');
    await new Promise((r) => setTimeout(r, 400)); // a late duplicate would show up here
    const got = sink.messages.filter((m) => m.mail.messageId === receipt.message_id);
    assert.equal(got.length, 1, 'delivered exactly once, with the Message-ID fixed at enqueue');
    const row = (await d.app.outbox.list()).find((r) => r.id === receipt.id)!;
    assert.ok(row.attempts >= 3);
    assert.ok(row.sent_at);
  });

  it('R59: 550 marks the message failed with the server\'s answer, no retry', async () => {
    const sink = await new SmtpSink().start();
    cleanups.push(() => sink.stop());
    sink.mode = 'permfail';
    const env = makeEnv((c) => { c.outbound = fastRetry(sink.port); });
    cleanups.push(() => env.cleanup());
    const d = await startTestDaemon(env);
    cleanups.push(() => d.stop());
    await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('pf') }));
    // Every message (receipt and group notifications) ends failed after one attempt.
    await waitFor(async () => { const rows = (await d.app.outbox.list()); return rows.length > 0 && rows.every((r) => r.status === 'failed'); }, 'all failed');
    const rows = (await d.app.outbox.list());
    for (const r of rows) assert.match(r.last_error!, /550 5\.7\.1 Relaying denied/);
    const attempts = sink.attempts;
    assert.equal(attempts, rows.length, 'one attempt each');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(sink.attempts, attempts, 'no retry after a permanent failure');
    assert.ok(rows.every((r) => r.attempts === 1));
  });

  it('R59: SIGKILL with messages queued; after restart each is delivered once with its original Message-ID', async () => {
    const sink = await new SmtpSink().start();
    const port = sink.port;
    await sink.stop(); // the smarthost is down while mail is queued
    // A delivery in flight at the kill stays claimed until the dead process's heartbeat is older than the lease.
    const env = makeEnv((c) => { c.outbound = fastRetry(port); c.log = { level: 'info' }; c.processing = { ...(c.processing as object), claim_lease: '3s' }; });
    cleanups.push(() => env.cleanup());
    const first = await spawnServe(env.configPath);
    for (let i = 0; i < 3; i++) assert.match(await sendMail(first.port, SUPPORT, mail({ messageId: uniqueId(`k${i}`), subject: `Kill ${i}` })), /^250/);
    const db = openDatabase(env.config.data_dir);
    const dbSql = sqliteSql(db);
    cleanups.push(() => void db.close());
    const outbox = createOutboxRepo(dbSql);
    await waitFor(async () => (await outbox.list()).filter((r) => r.attempts >= 1).length >= 3, 'three failed attempts', 15_000);
    const queued = (await outbox.list()).filter((r) => r.status !== 'sent');
    first.child.kill('SIGKILL');
    await waitExit(first.child);
    await sink.start(port);
    cleanups.push(() => sink.stop());
    const second = await spawnServe(env.configPath);
    try {
      await waitFor(async () => (await outbox.list()).every((r) => r.status === 'sent'), 'all sent after restart', 15_000);
      await new Promise((r) => setTimeout(r, 300));
      for (const q of queued) {
        assert.equal(sink.messages.filter((m) => m.mail.messageId === q.message_id).length, 1, `${q.message_id} once`);
      }
      assert.equal(sink.messages.length, (await outbox.list()).length, 'nothing extra was sent');
    } finally {
      second.child.kill('SIGTERM');
      await waitExit(second.child);
    }
  });

  it('R43: past notifications_per_recipient_per_hour, notifications are held, not sent', async () => {
    const sink = await new SmtpSink().start();
    cleanups.push(() => sink.stop());
    const env = makeEnv((c) => { c.outbound = fastRetry(sink.port); c.limits = { per_sender_per_hour: 100000, notifications_per_recipient_per_hour: 2 }; });
    cleanups.push(() => env.cleanup());
    const d = await startTestDaemon(env);
    cleanups.push(() => d.stop());
    for (let i = 0; i < 4; i++) await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId(`cap${i}`), subject: `Cap ${i}` }));
    await waitFor(async () => (await d.app.outbox.list()).filter((r) => r.trigger === 'notify-requester-received').length === 4, 'four receipts');
    await waitFor(async () => (await d.app.outbox.list()).every((r) => r.status !== 'queued' && r.status !== 'deferred'), 'drained');
    const receipts = (await d.app.outbox.list()).filter((r) => r.trigger === 'notify-requester-received');
    assert.deepEqual(receipts.map((r) => r.status).sort(), ['held', 'held', 'sent', 'sent']);
    assert.equal(sink.to('carol@customer.test').length, 2);
  });
});

describe('DKIM signing (R60)', () => {
  it('R60: outbound mail is signed with the configured domain and selector', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { writeFileSync } = await import('node:fs');
    const sink = await new SmtpSink().start();
    const env = makeEnv((c) => { c.outbound = { ...fastRetry(sink.port), dkim: { domain: 'acme.test', selector: 'dg', private_key: './dkim.pem' } }; });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(`${env.dir}/dkim.pem`, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const d = await startTestDaemon(env);
    try {
      await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('dkim') }));
      const m = await waitFor(() => sink.messages[0], 'a delivered message');
      const sig = m.raw.slice(0, m.raw.search(/\r?\n\r?\n/)).replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/).find((l) => /^DKIM-Signature:/i.test(l)) ?? '';
      assert.match(sig, /d=acme\.test/);
      assert.match(sig, /s=dg/);
    } finally {
      await d.stop();
      await sink.stop();
      env.cleanup();
    }
  });
});

describe('retry policy (R59)', () => {
  const s = { initialMs: 60_000, maxMs: 3_600_000, forMs: 2 * 86_400_000 };
  const created = new Date('2026-11-23T00:00:00Z');
  const cases: Array<[string, number | undefined, number, number, string]> = [
    ['first temporary failure waits retry_initial', 451, 1, 0, 'deferred+60000'],
    ['then doubles', 421, 3, 0, 'deferred+240000'],
    ['capped at retry_max', undefined, 12, 0, 'deferred+3600000'],
    ['5xx is permanent', 550, 1, 0, 'failed'],
    ['gives up after retry_for', 451, 40, 2 * 86_400_000, 'failed'],
  ];
  for (const [name, code, attempts, elapsed, expected] of cases) {
    it(`R59: ${name}`, async () => {
      const now = new Date(created.getTime() + elapsed);
      const r = afterFailure({ responseCode: code, attempts, createdAt: created, now, error: 'x' }, s);
      assert.equal(r.kind === 'failed' ? 'failed' : `deferred+${r.next.getTime() - now.getTime()}`, expected);
    });
  }
});
