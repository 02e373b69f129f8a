import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { spawnServe, waitExit } from '../helpers/daemon.js';
import { mail } from '../helpers/mail.js';
import { SmtpClient } from '../helpers/smtp.js';
import { openStore } from '../../src/store/index.js';

/**
 * R6/R7 under a crash: several SMTP sessions send while the daemon is SIGKILLed. After a
 * restart every message that got 250 must be in exactly one ticket comment.
 */
describe('durability: SIGKILL during SMTP load (R6, R7)', () => {
  let env: TestEnv;
  after(() => env?.cleanup());

  it('every 250-acknowledged message is in exactly one ticket after kill -9 and restart', async () => {
    env = makeEnv((c) => {
      c.log = { level: 'info' };
      // A short lease: the killed process's claims come back once its heartbeat is older than it.
      c.processing = { parse_workers: 1, batch_size: 32, claim_lease: '3s' };
    });
    const first = await spawnServe(env.configPath);
    const acked = new Set<string>();
    let attempted = 0;
    let stop = false;

    async function sender(n: number): Promise<void> {
      let c: SmtpClient;
      try {
        c = await SmtpClient.connect(first.port);
        await c.cmd(`EHLO sender${n}.test`);
      } catch {
        return;
      }
      for (let i = 0; i < 400 && !stop; i++) {
        const id = `<kill-${n}-${i}@customer.test>`;
        attempted++;
        let reply: string;
        try {
          reply = await c.send('carol@customer.test', [SUPPORT], mail({ messageId: id, subject: `load ${n}/${i}`, body: 'x'.repeat(2000) }));
        } catch {
          break;
        }
        if (reply.startsWith('250')) acked.add(id);
        else break;
      }
      c.destroy();
    }

    const senders = Array.from({ length: 20 }, (_, n) => sender(n));
    await waitFor(() => acked.size >= 150, '150 acknowledged messages', 30_000);
    first.child.kill('SIGKILL');
    await waitExit(first.child);
    stop = true;
    await Promise.all(senders);
    assert.ok(acked.size >= 150);

    const second = await spawnServe(env.configPath);
    try {
      // The store the daemon uses (SQLite, or PostgreSQL when the suite runs on it), read from outside.
      const { sql, close } = await openStore(env.config, { readOnly: true });
      try {
        await waitFor(async () => (await sql.value("SELECT count(*) FROM intake WHERE status IN ('received','processing')")) === 0, 'the queue to drain after restart', 30_000);
        const counts = new Map<string, number>();
        for (const mid of await sql.column<string>('SELECT message_id FROM comments WHERE message_id IS NOT NULL')) {
          counts.set(mid, (counts.get(mid) ?? 0) + 1);
        }
        const lost = [...acked].filter((id) => !counts.has(id));
        const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
        const failed = await sql.value("SELECT count(*) FROM intake WHERE status = 'failed'");
        console.log(`# durability: attempted=${attempted} acked=${acked.size} stored=${counts.size} lost=${lost.length} duplicated=${duplicated.length} failed=${failed}`);
        assert.deepEqual(lost, [], 'acknowledged messages lost');
        assert.deepEqual(duplicated, [], 'messages stored twice');
        assert.equal(failed, 0);
      } finally {
        await close();
      }
    } finally {
      second.child.kill('SIGTERM');
      assert.equal(await waitExit(second.child), 0);
    }
  });
});

describe('graceful stop (SIGTERM)', () => {
  let env: TestEnv;
  after(() => env?.cleanup());

  it('finishes a message in DATA, answers 421 to new commands, exits 0', async () => {
    env = makeEnv((c) => { c.log = { level: 'info' }; });
    const d = await spawnServe(env.configPath);
    const c = await SmtpClient.connect(d.port);
    await c.cmd('EHLO slow.test');
    await c.cmd('MAIL FROM:<carol@customer.test>');
    await c.cmd(`RCPT TO:<${SUPPORT}>`);
    assert.match(await c.cmd('DATA'), /^354/);
    // Half the message is sent when the stop signal arrives.
    const raw = mail({ messageId: '<graceful@customer.test>', subject: 'In flight' }).toString('binary').replace(/\r?\n/g, '\r\n');
    const half = Math.floor(raw.length / 2);
    (c as unknown as { socket: import('node:net').Socket }).socket.write(raw.slice(0, half));
    d.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    (c as unknown as { socket: import('node:net').Socket }).socket.write(raw.slice(half) + '\r\n.\r\n');
    assert.match(await c.reply(), /^250 /, 'the message in flight is accepted');
    assert.match(await c.cmd('MAIL FROM:<carol@customer.test>'), /^421/);
    c.destroy();
    assert.equal(await waitExit(d.child), 0);
    assert.match(d.logs(), /serve:stopped/);
    const { sql, close } = await openStore(env.config, { readOnly: true });
    try {
      assert.equal(await sql.value('SELECT count(*) FROM intake WHERE message_id = ?', ['<graceful@customer.test>']), 1);
    } finally {
      await close();
    }
  });
});
