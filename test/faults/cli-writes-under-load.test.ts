import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { spawn } from 'node:child_process';
import { spawnServe, runCli, waitExit, ROOT } from '../helpers/daemon.js';
import { mail } from '../helpers/mail.js';
import { SmtpClient, sendMail } from '../helpers/smtp.js';
import { openDatabase } from '../../src/store/index.js';

/**
 * Issue 13.1: a CLI write during SMTP load must not make processing fail with SQLITE_BUSY and
 * leave a batch claimed for the lease (R8: nothing blocks the messages after it). The daemon's
 * writers take the write lock at BEGIN (IMMEDIATE), where the busy timeout waits for the CLI.
 */
describe('faults: CLI writes while the daemon processes SMTP load', () => {
  let env: TestEnv;
  after(() => env?.cleanup());

  it('R8: no BUSY error, nothing stays in processing, every acknowledged message is stored', async () => {
    env = makeEnv((c) => {
      c.log = { level: 'info', format: 'json' };
      c.processing = { parse_workers: 1, batch_size: 16 };
    });
    const serve = await spawnServe(env.configPath);
    const db = openDatabase(env.config.data_dir);
    try {
      assert.match(await sendMail(serve.port, SUPPORT, mail({ subject: 'Target of the CLI', messageId: '<first@customer.test>' })), /^250/);
      await waitFor(() => db.prepare("SELECT COUNT(*) FROM tickets").pluck().get() === 1, 'the first ticket');

      let loadDone = false;
      let acked = 0;
      async function sender(n: number): Promise<void> {
        const c = await SmtpClient.connect(serve.port);
        await c.cmd(`EHLO load${n}.test`);
        // Sends for a fixed time, so the CLI loop overlaps the load whatever this machine's speed.
        const until = Date.now() + 12_000;
        for (let i = 0; i < 5000 && Date.now() < until; i++) {
          // Half are replies: threading reads before it writes, the case a deferred transaction loses.
          const reply = i % 2 === 0 ? { inReplyTo: '<first@customer.test>' } : {};
          const r = await c.send('carol@customer.test', [SUPPORT], mail({ subject: `load ${n}/${i}`, body: 'y'.repeat(1500), ...reply }));
          assert.match(r, /^250/);
          acked++;
        }
        await c.quit();
      }
      let cliRuns = 0;
      async function cliLoop(): Promise<void> {
        while (!loadDone && cliRuns < 60) {
          const n = cliRuns++;
          const r = await runCli(['tickets', 'update', '1', '-c', env.configPath, '--comment', `note ${n}`, '--private', '--author', 'bob@acme.test', '--tag', `t${n}`]);
          assert.equal(r.code, 0, r.stderr);
        }
      }
      // The oldest claim in processing, sampled all along: a stuck batch shows up here.
      let maxProcessingAgeMs = 0;
      const sampler = setInterval(() => {
        const oldest = db.prepare("SELECT MIN(claimed_at) FROM intake WHERE status = 'processing'").pluck().get() as string | null;
        if (oldest) maxProcessingAgeMs = Math.max(maxProcessingAgeMs, Date.now() - Date.parse(oldest));
      }, 100);
      // Besides the real CLI, a second process that writes like a slow admin command: it takes the
      // write lock for 2 ms of every 10 ms, so processing often meets a busy database.
      const holder = spawn(process.execPath, ['--input-type=module', '-e', `
        import Database from 'better-sqlite3';
        const db = new Database(${JSON.stringify(`${env.config.data_dir}/deskgate.sqlite`)});
        db.pragma('busy_timeout = 10000');
        const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
        const touch = db.prepare("UPDATE tickets SET updated_at = updated_at WHERE id = 1");
        const until = Date.now() + 30000;
        while (Date.now() < until) {
          db.exec('BEGIN IMMEDIATE');
          touch.run();
          sleep(2);
          db.exec('COMMIT');
          sleep(8);
        }`], { cwd: ROOT, stdio: 'ignore' });
      const cli = Promise.all([cliLoop(), cliLoop()]);
      await Promise.all(Array.from({ length: 5 }, (_, n) => sender(n)));
      loadDone = true;
      holder.kill('SIGKILL');
      await cli;
      await waitFor(() => db.prepare("SELECT COUNT(*) FROM intake WHERE status IN ('received', 'processing')").pluck().get() === 0, 'the backlog to drain', 60_000);
      clearInterval(sampler);

      const byStatus = Object.fromEntries((db.prepare('SELECT status, COUNT(*) n FROM intake GROUP BY status').all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n]));
      const logs = serve.logs();
      console.log(`# acked=${acked + 1} cli_updates=${cliRuns} intake=${JSON.stringify(byStatus)} max_processing_age_ms=${maxProcessingAgeMs}`);
      assert.ok(cliRuns >= 3, 'the CLI wrote during the load');
      assert.deepEqual(byStatus, { done: acked + 1 }, 'every acknowledged message stored, none failed');
      assert.doesNotMatch(logs, /SQLITE_BUSY|database is locked/);
      assert.ok(maxProcessingAgeMs < 5_000, `a message sat in processing for ${maxProcessingAgeMs} ms`);
    } finally {
      db.close();
      serve.child.kill('SIGTERM');
      await waitExit(serve.child);
    }
  });
});
