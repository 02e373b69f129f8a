import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { spawnServe, waitExit } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { SmtpClient } from '../helpers/smtp.js';
import { PgCluster } from '../helpers/postgres.js';
import { openStore } from '../../src/store/index.js';
import { SmtpSink } from '../helpers/sink.js';

/**
 * A dead database under a running node (issue 14): PostgreSQL stops while serve runs. SMTP
 * answers 451 (try later) instead of 250, nothing that got 250 is lost, and once the database is
 * back the node accepts and processes again without a restart. Its own cluster, so it can stop it.
 */
describe('PostgreSQL goes away under a running node', () => {
  const cluster = new PgCluster();
  const sink = new SmtpSink();
  let env: TestEnv | undefined;
  after(async () => {
    await sink.stop();
    env?.cleanup();
    cluster.stopSync();
  });

  it('R6, R8: 451 while the database is down, 250 again when it is back; every 250 is stored once', async () => {
    await cluster.start();
    await sink.start();
    env = makeEnv((c) => {
      c.log = { level: 'info' };
      c.outbound = { smtp: { host: '127.0.0.1', port: sink.port, secure: false }, retry_initial: '200ms' };
      c.store = { backend: 'postgres', url: cluster.adminUrl, pool_size: 4 };
    });
    const node = await spawnServe(env.configPath);
    const acked: string[] = [];
    const send = async (tag: string): Promise<string> => {
      const c = await SmtpClient.connect(node.port);
      try {
        await c.cmd('EHLO outage.test');
        const id = uniqueId(tag);
        const reply = await c.send('carol@customer.test', [SUPPORT], mail({ messageId: id, subject: tag }));
        if (reply.startsWith('250')) acked.push(id);
        return reply;
      } finally {
        c.destroy();
      }
    };
    try {
      assert.match(await send('before'), /^250/);
      await cluster.pause();
      const during = await send('during');
      assert.match(during, /^451 /, 'the database is down: try later, not 250 and not 5xx');
      await cluster.resume();
      const after = await waitFor(async () => {
        const r = await send('after');
        return r.startsWith('250') ? r : undefined;
      }, 'accepting again once the database is back', 60_000, 500);
      assert.match(after, /^250/);
      const store = await openStore(env.config, { readOnly: true });
      try {
        await waitFor(async () => (await store.sql.value("SELECT count(*) FROM intake WHERE status IN ('received', 'processing')")) === 0, 'processed', 60_000, 200);
        const rows = await store.sql.all<{ message_id: string; n: number }>(
          `SELECT message_id, count(*) AS n FROM comments WHERE message_id IN (${acked.map(() => '?').join(', ')}) GROUP BY message_id`, acked);
        console.log(`# postgres outage: acked=${acked.length} stored=${rows.length} during="${during.trim()}"`);
        assert.deepEqual(rows.map((r) => r.n), acked.map(() => 1), 'every acknowledged message in exactly one comment');
        assert.equal(await store.sql.value("SELECT count(*) FROM intake WHERE status = 'failed'"), 0, 'the outage failed no message (R8)');
        // R59: the notifications of every stored message go out, none left claimed by the node that lived through the outage.
        await waitFor(async () => (await store.sql.value("SELECT count(*) FROM outbox WHERE status <> 'sent'")) === 0, 'every notification sent', 60_000, 200);
        assert.ok((await store.sql.value<number>('SELECT count(*) FROM outbox'))! >= acked.length);
      } finally {
        await store.close();
      }
      assert.match(node.logs(), /STORE_UNREACHABLE/, 'the outage is logged with its code');
      assert.doesNotMatch(node.logs(), /"err":"[^"]*postgres:\/\/[^"@]*:[^"@]*@/, 'no password in the logs');
    } finally {
      node.child.kill('SIGTERM');
      await waitExit(node.child, 30_000).catch(() => node.child.kill('SIGKILL'));
    }
  });
});
