import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { makeEnv, baseConfig, SUPPORT, type TestEnv } from '../helpers/env.js';
import { runCli } from '../helpers/daemon.js';
import { mail } from '../helpers/mail.js';

/** Every file under dir with its size, mtime and sha256: any write shows up as a difference. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) { out.set(`${p}/`, String(statSync(p).mtimeMs)); walk(p); continue; }
      const st = statSync(p);
      // The -shm wal-index is shared memory where every reader takes its read lock: its mtime
      // moves on any read. Its presence still counts, and the -wal must not change at all.
      if (p.endsWith('-shm')) { out.set(p, 'wal-index'); continue; }
      out.set(p, `${st.size} ${st.mtimeMs} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  walk(dir);
  return out;
}

function configWithoutSecret(env: TestEnv, bobName: string): void {
  const c = baseConfig();
  delete c.secret; // the secret then lives in data_dir/secret, which only write commands may create
  (c.agents as Array<{ email: string; name: string }>)[1]!.name = bobName;
  writeFileSync(env.configPath, stringify(c));
}

// What each read-only command is called with; `backup` writes only the file it is given.
const READ_ONLY: Array<(env: TestEnv) => string[]> = [
  () => ['tickets', 'list', '--json'],
  () => ['tickets', 'show', '1', '--json'],
  () => ['failed', 'list', '--json'],
  () => ['outbox', 'list', '--json'],
  () => ['suspended', 'list', '--json'],
  () => ['suspended', 'show', '2', '--json'],
  () => ['imap', 'status', '--json'],
  () => ['stats', '--json'],
  () => ['triggers', 'list', '--json'],
  () => ['automations', 'list', '--json'],
  () => ['check-config', '--json'],
  (env) => ['backup', join(env.dir, 'out.backup'), '--json'],
  // explain's dry run (decide, apply, triggers) runs in a transaction that is rolled back.
  (env) => ['explain', explainFile(env), '--json'],
];

/** A new customer mail outside data_dir for explain (the name row is built with a fake env). */
function explainFile(env: TestEnv): string {
  const file = join(env.dir, 'explain.eml');
  if (env.dir !== '<dir>') writeFileSync(file, mail({ subject: 'A new question', from: 'Dan <dan@customer.test>' }));
  return file;
}

describe('read-only CLI commands write nothing (issue 12)', () => {
  let env: TestEnv;
  let dataDir: string;
  before(async () => {
    env = makeEnv();
    configWithoutSecret(env, 'Bob');
    dataDir = join(env.dir, 'data');
    // A write command makes the database and the secret; then a suspended one (R43: from a support address).
    for (const m of [mail({ subject: 'Printer on fire' }), mail({ from: SUPPORT, subject: 'Loop' })]) {
      const r = await runCli(['inject', '-c', env.configPath, '--json'], { input: m });
      assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(existsSync(join(dataDir, 'secret')));
    // Staff renamed and the secret gone: a command that synced staff or made a secret would now write.
    configWithoutSecret(env, 'Robert');
    rmSync(join(dataDir, 'secret'));
  });
  after(() => env.cleanup());

  for (const args of READ_ONLY) {
    const name = args({ dir: '<dir>' } as TestEnv).slice(0, 2).join(' ');
    it(`${name}: the database and data_dir are unchanged, no secret file appears`, async () => {
      rmSync(join(dataDir, 'secret'), { force: true }); // left by an earlier command that failed
      // Alone: not even SQLite's -wal/-shm may be left behind.
      const alone = snapshot(dataDir);
      const r1 = await runCli([...args(env), '-c', env.configPath]);
      assert.equal(r1.code, 0, r1.stderr);
      assert.doesNotThrow(() => JSON.parse(r1.stdout), r1.stdout);
      assert.deepEqual(snapshot(dataDir), alone);
      // Beside a connection held open, as serve's: data_version moves when another connection commits.
      // query_only, not readonly: a readonly connection would leave -wal/-shm behind for the next test.
      const db = new Database(join(dataDir, 'deskgate.sqlite'));
      db.pragma('query_only = ON');
      try {
        const version = db.pragma('data_version', { simple: true });
        const before = snapshot(dataDir);
        const r2 = await runCli([...args(env), '-c', env.configPath]);
        assert.equal(r2.code, 0, r2.stderr);
        assert.equal(db.pragma('data_version', { simple: true }), version, 'another connection committed');
        assert.deepEqual(snapshot(dataDir), before);
      } finally {
        db.close();
      }
      assert.equal(existsSync(join(dataDir, 'secret')), false);
    });
  }

  it('a write command still syncs staff names from the config and makes the secret', async () => {
    const r = await runCli(['automations', 'run', '-c', env.configPath, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const db = new Database(join(dataDir, 'deskgate.sqlite'), { readonly: true });
    try {
      assert.equal(db.prepare('SELECT name FROM users WHERE email = ?').pluck().get('bob@acme.test'), 'Robert');
    } finally {
      db.close();
    }
    assert.ok(existsSync(join(dataDir, 'secret')));
  });
});

describe('read-only CLI commands before the first message (issue 12)', () => {
  let env: TestEnv;
  before(() => { env = makeEnv(); configWithoutSecret(env, 'Bob'); });
  after(() => env.cleanup());

  it('tickets list and stats show an empty helpdesk and say why, without creating data_dir', async () => {
    const list = await runCli(['tickets', 'list', '--json', '-c', env.configPath]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), []);
    assert.match(list.stderr, /STORE_NO_DATABASE/);
    const stats = await runCli(['stats', '--json', '-c', env.configPath]);
    assert.equal(stats.code, 0, stats.stderr);
    assert.equal(JSON.parse(stats.stdout).failed, 0);
    assert.equal(existsSync(join(env.dir, 'data')), false);
  });

  it('tickets show of a ticket that cannot exist yet is a clear error, still without data_dir', async () => {
    const r = await runCli(['tickets', 'show', '1', '-c', env.configPath]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /1/);
    assert.equal(existsSync(join(env.dir, 'data')), false);
  });

  it('a database that still needs a migration is refused, not migrated (migrating is a write)', async () => {
    const r = await runCli(['inject', '-c', env.configPath], { input: mail() });
    assert.equal(r.code, 0, r.stderr);
    const file = join(env.dir, 'data', 'deskgate.sqlite');
    const db = new Database(file);
    const last = db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number;
    db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(last);
    db.close();
    const before = snapshot(join(env.dir, 'data'));
    const list = await runCli(['tickets', 'list', '-c', env.configPath]);
    assert.equal(list.code, 75, list.stderr);
    assert.match(list.stderr, new RegExp(`STORE_SCHEMA_OLD: .*needs migration ${last}: run deskgate serve`));
    assert.deepEqual(snapshot(join(env.dir, 'data')), before);
  });
});
