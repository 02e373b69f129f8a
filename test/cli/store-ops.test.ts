import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeEnv, SUPPORT, TEST_BACKEND, type TestEnv } from '../helpers/env.js';
import { startTestDaemon, runCli, cliJson } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { sendMail } from '../helpers/smtp.js';
import type { Daemon } from '../../src/daemon.js';

/**
 * What an admin sees of the store from the CLI, on whichever backend the pass runs (SQLite in
 * npm test's first pass, PostgreSQL in its second): stats names the store and the running nodes
 * with what they lead (R71); backup is SQLite's, and on PostgreSQL it points at pg_dump.
 */
describe(`store operations from the CLI on ${TEST_BACKEND}`, () => {
  let env: TestEnv;
  let d: Daemon & { port: number };
  before(async () => {
    env = makeEnv();
    d = await startTestDaemon(env);
    assert.match(await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('ops') })), /^250/);
    await d.app.processor.drain();
  });
  after(async () => {
    await d?.stop();
    env?.cleanup();
  });

  it('R71: stats names the store and the running node with what it leads', async () => {
    const s = await cliJson<{ store: { backend: string; location: string }; nodes: Array<{ id: string; leads: string[] }> }>(['stats', '-c', env.configPath]);
    assert.equal(s.store.backend, TEST_BACKEND);
    assert.doesNotMatch(s.store.location, /:[^:@/]+@/, 'no password in the location');
    assert.deepEqual(s.nodes.map((n) => n.id), [d.app.ctx.nodeId], 'the daemon is the one running node');
    assert.deepEqual(s.nodes[0]!.leads, d.app.node().leads);
  });

  it('backup: a one-file backup on SQLite; on PostgreSQL a clear refusal that names pg_dump', async () => {
    const file = join(env.dir, 'b.dgbak');
    const r = await runCli(['backup', file, '-c', env.configPath]);
    if (TEST_BACKEND === 'sqlite') {
      assert.equal(r.code, 0, r.stderr);
      assert.ok(existsSync(file));
    } else {
      assert.equal(r.code, 1);
      assert.match(r.stderr, /pg_dump/);
      assert.equal(existsSync(file), false);
      const restore = await runCli(['restore', file, '-c', env.configPath]);
      assert.equal(restore.code, 1);
      assert.match(restore.stderr, /pg_restore/);
    }
  });
});
