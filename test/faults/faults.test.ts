import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, writeSync, closeSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeEnv, waitFor, SUPPORT } from '../helpers/env.js';
import { startTestDaemon, ROOT } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail, SmtpClient } from '../helpers/smtp.js';

describe('fault: disk full (R6, R8)', () => {
  it('SMTP answers 451 while the data disk is full, loses nothing acknowledged, and recovers when space returns', async (t) => {
    const mnt = mkdtempSync(join(tmpdir(), 'dg-tmpfs-'));
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt]);
    if (m.status !== 0) {
      rmSync(mnt, { recursive: true, force: true });
      return t.skip(`cannot mount a tmpfs here: ${m.stderr?.toString().trim()}`);
    }
    const env = makeEnv((c) => { c.data_dir = mnt; });
    const d = await startTestDaemon(env);
    const filler = join(mnt, 'filler');
    try {
      const acked: string[] = [];
      for (let i = 0; i < 3; i++) {
        const id = uniqueId('full-before');
        assert.match(await sendMail(d.port, SUPPORT, mail({ messageId: id })), /^250 /);
        acked.push(id);
      }
      await waitFor(async () => (await d.app.intake.pendingCount()) === 0, 'processed');
      // Fill the disk to the last byte.
      const fd = openSync(filler, 'w');
      const block = Buffer.alloc(64 * 1024, 1);
      try { for (;;) writeSync(fd, block); } catch { /* ENOSPC */ }
      try { for (;;) writeSync(fd, block.subarray(0, 512)); } catch { /* ENOSPC */ }
      closeSync(fd);
      const refused: string[] = [];
      for (let i = 0; i < 3; i++) refused.push(await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('full-during'), body: 'x'.repeat(3000) })));
      for (const r of refused) assert.match(r, /^4(51|52) /, `a full disk is a temporary failure: ${r}`);
      unlinkSync(filler);
      const after = uniqueId('full-after');
      assert.match(await sendMail(d.port, SUPPORT, mail({ messageId: after })), /^250 /, 'recovers when space returns');
      acked.push(after);
      await waitFor(async () => (await Promise.all(acked.map((id) => d.app.sql.get('SELECT 1 FROM comments WHERE message_id = ?', [id])))).every(Boolean), 'every acknowledged message stored', 15_000);
      console.log(`# disk full: acked=${acked.length} refused_while_full=${refused.length} lost=0`);
    } finally {
      await d.stop();
      env.cleanup();
      spawnSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });
});

describe('fault: database locked by another process', () => {
  it('processing on the listener loop (workers: 0): intake waits for a CLI-style write lock and loses nothing', async () => {
    const env = makeEnv();
    const d = await startTestDaemon(env, { inline: true });
    try {
      // Another process takes the write lock and holds it for 1.5 s, as a long CLI command would.
      const holder = spawn(process.execPath, ['-e', `
        const D = require('better-sqlite3'); const db = new D(${JSON.stringify(join(env.config.data_dir, 'deskgate.sqlite'))});
        db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n');
        setTimeout(() => { db.exec('COMMIT'); db.close(); }, 1500);`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise((r) => holder.once('exit', r));
      await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
      const ids = Array.from({ length: 5 }, () => uniqueId('locked'));
      const started = Date.now();
      const replies = await Promise.all(ids.map((id) => sendMail(d.port, SUPPORT, mail({ messageId: id }))));
      const waited = Date.now() - started;
      for (const r of replies) assert.match(r, /^(250|451) /);
      await exited;
      const acked = ids.filter((_, i) => replies[i]!.startsWith('250'));
      await waitFor(async () => (await Promise.all(acked.map((id) => d.app.sql.get('SELECT 1 FROM comments WHERE message_id = ?', [id])))).every(Boolean), 'stored after the lock');
      console.log(`# db locked: acked=${acked.length}/5 waited_ms=${waited}`);
      assert.equal(acked.length, 5, 'a 1.5 s lock is within busy_timeout: intake waits rather than refusing');
    } finally {
      await d.stop();
      env.cleanup();
    }
  });

  it('with processing threads a long lock never freezes the listener: greetings go on, mail gets 451 4.3.0 within a second or so, then 250', async () => {
    const env = makeEnv();
    const d = await startTestDaemon(env);
    try {
      assert.ok(d.processing, 'serve mode: processing in a thread');
      const holder = spawn(process.execPath, ['-e', `
        const D = require('better-sqlite3'); const db = new D(${JSON.stringify(join(env.config.data_dir, 'deskgate.sqlite'))});
        db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n');
        setTimeout(() => { db.exec('COMMIT'); db.close(); }, 5000);`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise((r) => holder.once('exit', r));
      await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
      const greet = async () => { const t = Date.now(); const c = await SmtpClient.connect(d.port); const ms = Date.now() - t; return { c, ms }; };
      const first = await greet();
      const id = uniqueId('longlock');
      await first.c.cmd('EHLO client.test');
      const t = Date.now();
      const reply = await first.c.send('carol@customer.test', [SUPPORT], mail({ messageId: id }));
      const answeredMs = Date.now() - t;
      const second = await greet(); // while the commit was refused, and the lock still held
      console.log(`# 5 s lock, threads: greeting ${first.ms} ms and ${second.ms} ms, DATA answered in ${answeredMs} ms: ${reply.slice(0, 40)}`);
      assert.match(reply, /^451 4\.3\.0 /, 'refused for now, not kept waiting for the lock');
      assert.ok(answeredMs < 2500, `answered in ${answeredMs} ms`);
      assert.ok(first.ms < 1000 && second.ms < 1000, 'new sessions are greeted during the lock');
      await first.c.quit();
      await second.c.quit();
      await exited;
      assert.match(await sendMail(d.port, SUPPORT, mail({ messageId: id })), /^250 /, 'the retry after the lock is accepted');
      await waitFor(async () => (await d.app.sql.value<number>('SELECT count(*) FROM comments WHERE message_id = ?', [id])) === 1, 'stored once');
    } finally {
      await d.stop();
      env.cleanup();
    }
  });
});
