import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { DeskgateError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/logger.js';
import { translatePlaceholders } from '../../src/store/pg-placeholders.js';
import { openPostgres, type PgSql } from '../../src/store/sql-postgres.js';
import { migratePostgres, pendingPostgresMigrations } from '../../src/store/migrate-postgres.js';
import { postgresMigrations } from '../../src/store/migrations/postgres.js';
import { createPgBlobStore, BLOB_CHUNK } from '../../src/store/blobs-postgres.js';
import { createTestDatabase, stopTestCluster } from '../helpers/postgres.js';
import { freePort as closedPort } from '../helpers/net.js';

type TestDb = Awaited<ReturnType<typeof createTestDatabase>>;

/** Log lines as objects, for asserting what was logged. */
function capture(): { lines: Array<Record<string, unknown>>; logger: ReturnType<typeof createLogger> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb(); } });
  return { lines, logger: createLogger('warn', {}, { destination }) };
}

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}


let db: TestDb;
let sql: PgSql;
const log = capture();
before(async () => {
  db = await createTestDatabase();
  sql = await openPostgres(db.url, { logger: log.logger });
  await sql.exec('CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT, n INTEGER NOT NULL DEFAULT 0); INSERT INTO t (id, n) VALUES (1, 0), (2, 0)');
});
after(async () => {
  await sql?.close();
  await db?.drop();
  await stopTestCluster();
});

describe('placeholders', () => {
  it('? and @name become $n outside literals, quoted names, comments and casts', () => {
    const p = translatePlaceholders(`SELECT '?', 'it''s @x?', "a?b", E'\\'?', $$ ? @y $$, ? -- ? @z\n, ?::int /* ? @w */ FROM x WHERE y = ?`);
    assert.equal(p.text, `SELECT '?', 'it''s @x?', "a?b", E'\\'?', $$ ? @y $$, $1 -- ? @z\n, $2::int /* ? @w */ FROM x WHERE y = $3`);
    assert.equal(p.kind, 'positional');
    assert.equal(p.count, 3);
    const n = translatePlaceholders("SELECT @a::int + @b, @a, 'x@a', email@domain FROM t WHERE j @> '{}'");
    assert.equal(n.text, "SELECT $1::int + $2, $1, 'x@a', email@domain FROM t WHERE j @> '{}'");
    assert.deepEqual(n.names, ['a', 'b']);
  });

  it('values bind by position and by name, a repeated name is one parameter', async () => {
    assert.equal(await sql.value('SELECT ?::int + ?::int', [2, 3]), 5);
    const row = await sql.get<Record<string, unknown>>("SELECT '?' AS q, 'it''s @a' AS lit, @a::int AS a, @a::int + @b::int AS s", { a: 4, b: 5 });
    assert.deepEqual(row, { q: '?', lit: "it's @a", a: 4, s: 9 });
  });

  it('undefined is refused with the statement in the message, not sent as NULL', async () => {
    await assert.rejects(sql.run('UPDATE t SET v = ? WHERE id = ?', ['x', undefined]), (err: unknown) => {
      assert.ok(err instanceof DeskgateError);
      assert.equal(err.code, 'STORE_PARAM_MISSING');
      assert.match(err.message, /placeholder 2 in: UPDATE t SET v = \? WHERE id = \?/);
      return true;
    });
    await assert.rejects(sql.run('UPDATE t SET v = @v WHERE id = @id', { v: 'x' }), /STORE_PARAM_MISSING|no value for @id/);
    assert.equal(await sql.value('SELECT count(*) FROM t WHERE v IS NOT NULL'), 0);
  });

  it('a statement run again is prepared once on its connection', async () => {
    await sql.tx(async () => {
      for (let i = 0; i < 4; i++) assert.equal(await sql.value('SELECT ?::int /* prepared-marker */', [i]), i);
      const prepared = await sql.value("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%prepared-marker%'");
      assert.equal(prepared, 1);
    });
  });
});

describe('types', () => {
  it('count(*) and sums are numbers, booleans are 1/0, column and value take the first column', async () => {
    assert.equal(await sql.value('SELECT count(*) FROM t'), 2);
    assert.equal(await sql.value('SELECT sum(id) FROM t'), 3, 'sum(bigint) is numeric');
    assert.equal(await sql.value('SELECT EXISTS (SELECT 1 FROM t WHERE id = 1)'), 1);
    assert.equal(await sql.value('SELECT EXISTS (SELECT 1 FROM t WHERE id = 9)'), 0);
    assert.deepEqual(await sql.column('SELECT id FROM t ORDER BY id'), [1, 2]);
    assert.equal(await sql.value('SELECT 1 WHERE false'), undefined);
    assert.equal(await sql.get('SELECT 1 WHERE false'), undefined);
  });

  it('a 1 MB bytea round trip returns the same Buffer', async () => {
    const bytes = randomBytes(1024 * 1024);
    await sql.exec('CREATE TABLE b (id INTEGER PRIMARY KEY, data BYTEA)');
    assert.equal(await sql.run('INSERT INTO b (id, data) VALUES (?, ?)', [1, bytes]), 1);
    const back = await sql.value<Buffer>('SELECT data FROM b WHERE id = 1');
    assert.ok(Buffer.isBuffer(back));
    assert.ok(bytes.equals(back));
  });
});

describe('transactions', () => {
  it('commit, rollback on a throw, and a nested tx is a savepoint of the outer one', async () => {
    await sql.tx(async () => { await sql.run('INSERT INTO t (id, v) VALUES (10, ?)', ['kept']); });
    assert.equal(await sql.value('SELECT v FROM t WHERE id = 10'), 'kept');
    await assert.rejects(sql.tx(async () => {
      await sql.run('INSERT INTO t (id) VALUES (11)');
      throw new Error('boom');
    }), /boom/);
    assert.equal(await sql.value('SELECT count(*) FROM t WHERE id = 11'), 0);
    assert.equal(sql.inTransaction, false);
    await assert.rejects(sql.tx(async () => {
      assert.equal(sql.inTransaction, true);
      const inner = await sql.tx(async () => { await sql.run('INSERT INTO t (id) VALUES (12)'); return 'inner'; });
      assert.equal(inner, 'inner');
      assert.equal(await sql.value('SELECT count(*) FROM t WHERE id = 12'), 1, 'the inner insert is visible in the outer tx');
      throw new Error('outer fails');
    }), /outer fails/);
    assert.equal(await sql.value('SELECT count(*) FROM t WHERE id = 12'), 0, 'the inner insert went with the outer rollback');
    await sql.tx(async () => {
      await sql.run('INSERT INTO t (id) VALUES (13)');
      await assert.rejects(sql.tx(async () => { await sql.run('INSERT INTO t (id) VALUES (14)'); throw new Error('inner fails'); }), /inner fails/);
    });
    assert.deepEqual(await sql.column('SELECT id FROM t WHERE id IN (13, 14) ORDER BY id'), [13], 'a failed savepoint rolls back alone; the outer work commits');
    await sql.tx(async () => { await sql.run('INSERT INTO t (id) VALUES (15)'); }, { rollback: true });
    assert.equal(await sql.value('SELECT count(*) FROM t WHERE id = 15'), 0, 'a dry run keeps nothing');
  });

  it('statements from outside a running tx do not land in it', async () => {
    let proceed!: () => void;
    const wait = new Promise<void>((r) => { proceed = r; });
    let inserted!: () => void;
    const insertedInTx = new Promise<void>((r) => { inserted = r; });
    const running = sql.tx(async () => {
      await sql.run('INSERT INTO t (id, v) VALUES (20, ?)', ['inside']);
      inserted();
      await wait;
      throw new Error('roll back');
    });
    await insertedInTx;
    assert.equal(sql.inTransaction, false);
    await sql.run('INSERT INTO t (id, v) VALUES (21, ?)', ['outside']);
    proceed();
    await assert.rejects(running, /roll back/);
    assert.deepEqual(await sql.column('SELECT v FROM t WHERE id IN (20, 21) ORDER BY id'), ['outside']);
  });

  it('a tx whose failed statement was caught does not pretend to commit', async () => {
    await assert.rejects(sql.tx(async () => {
      await sql.run('INSERT INTO t (id) VALUES (30)');
      await sql.run('INSERT INTO t (id) VALUES (30)').catch(() => {});
    }), (err: unknown) => err instanceof DeskgateError && err.code === 'STORE_TX_ABORTED');
    assert.equal(await sql.value('SELECT count(*) FROM t WHERE id = 30'), 0);
  });

  it('readOnly refuses writes', async () => {
    await assert.rejects(sql.tx(() => sql.run('INSERT INTO t (id) VALUES (31)'), { readOnly: true }), /read-only transaction/);
    assert.equal(await sql.value('SELECT count(*) FROM t WHERE id = 31'), 0);
  });

  it('a real deadlock is retried and both transactions finish', async () => {
    await sql.run('UPDATE t SET n = 0 WHERE id IN (1, 2)');
    let arrived = 0;
    let bothHoldOne!: () => void;
    const barrier = new Promise<void>((r) => { bothHoldOne = r; });
    let attempts = 0;
    const swap = (first: number, second: number) => sql.tx(async () => {
      attempts++;
      await sql.run('UPDATE t SET n = n + 1 WHERE id = ?', [first]);
      if (++arrived === 2) bothHoldOne();
      if (arrived <= 2) await barrier; // only the first attempts meet: a retry runs straight through
      await sql.run('UPDATE t SET n = n + 1 WHERE id = ?', [second]);
      return first;
    });
    const before = log.lines.length;
    assert.deepEqual(await Promise.all([swap(1, 2), swap(2, 1)]), [1, 2]);
    assert.deepEqual(await sql.column('SELECT n FROM t WHERE id IN (1, 2) ORDER BY id'), [2, 2], 'each tx applied exactly once');
    assert.equal(attempts, 3, 'one of the two ran twice');
    const warned = log.lines.slice(before).filter((l) => l.msg === 'store: transaction retried');
    assert.equal(warned.length, 1);
    assert.equal(warned[0]!.code, '40P01');
  });
});

describe('connections that fail', () => {
  it('an idle connection the server ends is logged, not thrown, and the pool reconnects', async () => {
    const lines = capture();
    const small = await openPostgres(db.url, { poolSize: 1, logger: lines.logger, applicationName: 'deskgate-idle-test' });
    try {
      assert.equal(await small.value('SELECT 1'), 1);
      assert.equal(await sql.value("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'deskgate-idle-test'"), 1);
      await until(() => lines.lines.some((l) => l.msg === 'store: idle PostgreSQL connection failed'));
      assert.equal(await small.value('SELECT 2'), 2);
    } finally {
      await small.close();
    }
  });

  it('a connection killed inside a tx fails that tx as STORE_UNREACHABLE and nothing else', async () => {
    const victim = await openPostgres(db.url, { applicationName: 'deskgate-tx-victim' });
    try {
      await assert.rejects(victim.tx(async () => {
        await victim.run('INSERT INTO t (id) VALUES (40)');
        await sql.value("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'deskgate-tx-victim' AND state LIKE 'idle in transaction%'");
        await new Promise((r) => setTimeout(r, 100));
        await victim.run('INSERT INTO t (id) VALUES (41)');
      }), (err: unknown) => err instanceof DeskgateError && err.code === 'STORE_UNREACHABLE');
      assert.equal(await victim.value('SELECT count(*) FROM t WHERE id IN (40, 41)'), 0);
    } finally {
      await victim.close();
    }
  });

  it('a statement that waits too long for a busy pool is STORE_POOL_BUSY, not STORE_UNREACHABLE', async () => {
    const one = await openPostgres(db.url, { poolSize: 1, connectTimeoutMs: 300 });
    try {
      let done!: () => void;
      const hold = new Promise<void>((r) => { done = r; });
      const holding = one.tx(() => hold);
      try {
        await assert.rejects(one.value('SELECT 1'), (err: unknown) => {
          assert.ok(err instanceof DeskgateError);
          assert.equal(err.code, 'STORE_POOL_BUSY');
          assert.match(err.message, /all 1 PostgreSQL connections stayed busy/);
          return true;
        });
      } finally {
        done(); // else close() would wait for the held connection forever
        await holding;
      }
      assert.equal(await one.value('SELECT 1'), 1);
    } finally {
      await one.close();
    }
  });

  it('a prepared SELECT * still works after its table gained a column', async () => {
    const one = await openPostgres(db.url, { poolSize: 1 });
    try {
      await one.exec('CREATE TABLE grows (id INTEGER PRIMARY KEY); INSERT INTO grows VALUES (1)');
      for (let i = 0; i < 3; i++) assert.deepEqual(await one.all('SELECT * FROM grows WHERE id = ?', [1]), [{ id: 1 }]);
      await one.exec("ALTER TABLE grows ADD COLUMN note TEXT NOT NULL DEFAULT 'x'");
      assert.deepEqual(await one.all('SELECT * FROM grows WHERE id = ?', [1]), [{ id: 1, note: 'x' }]);
      assert.deepEqual(await one.tx(() => one.all('SELECT * FROM grows WHERE id = ?', [1])), [{ id: 1, note: 'x' }]);
    } finally {
      await one.close();
    }
  });
});

describe('locks', () => {
  it('tryLock is exclusive across instances; the lock is lost when its connection is killed', async () => {
    const other = await openPostgres(db.url);
    try {
      const a = await sql.tryLock('imap:acct');
      assert.ok(a?.held);
      assert.equal(await other.tryLock('imap:acct'), undefined);
      assert.equal(await sql.tryLock('imap:acct'), undefined, 'exclusive within one instance too');
      const killed = await other.value("SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted");
      assert.equal(killed, 1);
      await until(() => !a.held);
      const b = await other.tryLock('imap:acct');
      assert.ok(b?.held, 'the other instance takes over');
      await b.release();
      assert.equal(b.held, false);
      const c = await sql.tryLock('imap:acct');
      assert.ok(c?.held, 'release() frees it');
      await c.release();
    } finally {
      await other.close();
    }
  });
});

describe('migrations', () => {
  it('two instances migrating at once apply each version once', async () => {
    const fresh = await createTestDatabase();
    const [a, b] = await Promise.all([openPostgres(fresh.url), openPostgres(fresh.url)]);
    try {
      const all = postgresMigrations.map((m) => m.version);
      assert.deepEqual(await pendingPostgresMigrations(a), all);
      const [ra, rb] = await Promise.all([migratePostgres(a), migratePostgres(b)]);
      assert.deepEqual([...ra, ...rb].sort((x, y) => x - y), all, 'each version applied by exactly one of the two');
      assert.deepEqual(await a.column('SELECT version FROM schema_migrations ORDER BY version'), all);
      assert.deepEqual(await pendingPostgresMigrations(b), []);
      assert.deepEqual(await migratePostgres(a), []);
    } finally {
      await a.close();
      await b.close();
      await fresh.drop();
    }
  });
});

describe('blob store', () => {
  before(async () => { await migratePostgres(sql); });

  it('5 MB written in odd-sized pieces streams back chunk by chunk, same sha256', async () => {
    const blobs = createPgBlobStore(sql);
    const bytes = randomBytes(5 * 1024 * 1024);
    const w = await blobs.writer();
    const sizes = [1, 7777, 100_003, 262_143, 262_145, 3];
    for (let at = 0, i = 0; at < bytes.length; i++) {
      const n = Math.min(sizes[i % sizes.length]!, bytes.length - at);
      await w.write(bytes.subarray(at, at + n));
      at += n;
    }
    assert.equal(await blobs.has(w.key), false, 'not readable before finish');
    assert.deepEqual(await w.finish(), { key: w.key, size: bytes.length });
    const hash = createHash('sha256');
    let parts = 0;
    for await (const part of blobs.stream(w.key)) {
      assert.ok(part.length <= BLOB_CHUNK, `a part of ${part.length} bytes`);
      hash.update(part);
      parts++;
    }
    assert.equal(parts, 20);
    assert.equal(hash.digest('hex'), createHash('sha256').update(bytes).digest('hex'));
    assert.ok((await blobs.read(w.key)).equals(bytes));
  });

  it('chunks commit on their own even when written inside a transaction that rolls back', async () => {
    const blobs = createPgBlobStore(sql);
    let key = '';
    await assert.rejects(sql.tx(async () => {
      const w = await blobs.writer();
      key = w.key;
      await w.write(randomBytes(300_000));
      await w.finish();
      throw new Error('intake row not committed');
    }), /intake row/);
    assert.equal(await blobs.has(key), true);
    assert.equal((await blobs.read(key)).length, 300_000);
  });

  it('abort leaves nothing', async () => {
    const blobs = createPgBlobStore(sql);
    const w = await blobs.writer();
    await w.write(randomBytes(600_000));
    await w.abort();
    assert.equal(await sql.value('SELECT count(*) FROM blobs WHERE key = ?', [w.key]), 0);
    assert.equal(await sql.value('SELECT count(*) FROM blob_chunks WHERE blob_key = ?', [w.key]), 0);
    await assert.rejects(blobs.read(w.key), (err: unknown) => err instanceof DeskgateError && err.code === 'STORE_BLOB_MISSING');
  });

  it('R6: the bytes of a writer cut off by a crash (never finished) are swept after a day; finished ones stay', async () => {
    const blobs = createPgBlobStore(sql);
    const cut = await blobs.writer();
    await cut.write(randomBytes(300_000)); // one chunk stored, never finished: its node died
    const kept = await blobs.writer();
    await kept.write(randomBytes(1000));
    await kept.finish();
    assert.equal(await blobs.sweepIncomplete(new Date(Date.now() - 86_400_000).toISOString()), 0, 'not before a day');
    assert.ok((await blobs.sweepIncomplete(new Date(Date.now() + 1000).toISOString())) >= 1);
    assert.equal(await sql.value('SELECT count(*) FROM blob_chunks WHERE blob_key = ?', [cut.key]), 0);
    assert.equal((await blobs.read(kept.key)).length, 1000);
  });

  it('put is idempotent (also when two run at once) and remove deletes', async () => {
    const blobs = createPgBlobStore(sql);
    const bytes = randomBytes(700_000);
    const key = createHash('sha256').update(bytes).digest('hex');
    await Promise.all([blobs.put(key, bytes), blobs.put(key, bytes)]);
    await blobs.put(key, bytes);
    assert.equal(await sql.value('SELECT count(*) FROM blob_chunks WHERE blob_key = ?', [key]), 3);
    assert.ok((await blobs.read(key)).equals(bytes));
    await blobs.remove(key);
    assert.equal(await blobs.has(key), false);
    assert.equal(await sql.value('SELECT count(*) FROM blob_chunks WHERE blob_key = ?', [key]), 0);
  });

  it('putStream (issue 14: a big attachment never whole in memory): stored once under its key, also when two run at once; nothing left under a temporary key', async () => {
    const blobs = createPgBlobStore(sql);
    const bytes = randomBytes(BLOB_CHUNK * 3 + 1234);
    const key = `attachment/${createHash('sha256').update(bytes).digest('hex')}`;
    async function* pieces(): AsyncIterable<Buffer> { for (let at = 0; at < bytes.length; at += 100_000) yield bytes.subarray(at, at + 100_000); }
    const incomingBefore = Number(await sql.value("SELECT count(*) FROM blobs WHERE key LIKE 'incoming/%'"));
    await Promise.all([blobs.putStream(key, pieces), blobs.putStream(key, pieces)]);
    await blobs.putStream(key, pieces);
    assert.equal(await sql.value('SELECT count(*) FROM blob_chunks WHERE blob_key = ?', [key]), 4);
    assert.deepEqual(await sql.get('SELECT size, chunks, complete FROM blobs WHERE key = ?', [key]), { size: bytes.length, chunks: 4, complete: 1 });
    assert.ok((await blobs.read(key)).equals(bytes));
    assert.equal(Number(await sql.value("SELECT count(*) FROM blobs WHERE key LIKE 'incoming/%'")), incomingBefore, 'the temporary blobs are gone');
  });

  it('putStream whose source fails stores nothing', async () => {
    const blobs = createPgBlobStore(sql);
    const key = 'attachment/broken-source';
    async function* failing(): AsyncIterable<Buffer> { yield randomBytes(BLOB_CHUNK + 10); throw new Error('scratch file vanished'); }
    const incomingBefore = Number(await sql.value("SELECT count(*) FROM blobs WHERE key LIKE 'incoming/%'"));
    await assert.rejects(blobs.putStream(key, failing), /vanished/);
    assert.equal(await blobs.has(key), false);
    assert.equal(Number(await sql.value("SELECT count(*) FROM blobs WHERE key LIKE 'incoming/%'")), incomingBefore);
  });
});

describe('connection errors', () => {
  it('an unreachable server is STORE_UNREACHABLE, and the password is nowhere', async () => {
    const port = await closedPort();
    await assert.rejects(openPostgres(`postgres://deskgate:s3cret-pw@127.0.0.1:${port}/deskgate`), (err: unknown) => {
      assert.ok(err instanceof DeskgateError);
      assert.equal(err.code, 'STORE_UNREACHABLE');
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.doesNotMatch(err.message + JSON.stringify(err.context), /s3cret-pw/);
      assert.match(String(err.context.url), /\*\*\*/);
      return true;
    });
  });

  it('a missing database and a refused role get their own codes', async () => {
    const u = new URL(db.url);
    u.pathname = '/no_such_db';
    await assert.rejects(openPostgres(u.toString()), (err: unknown) => err instanceof DeskgateError && err.code === 'STORE_NO_DATABASE');
    await sql.exec('CREATE ROLE deskgate_nologin NOLOGIN');
    const r = new URL(db.url);
    r.username = 'deskgate_nologin';
    r.password = 'pw-not-shown';
    await assert.rejects(openPostgres(r.toString()), (err: unknown) => {
      assert.ok(err instanceof DeskgateError);
      assert.equal(err.code, 'STORE_AUTH_FAILED');
      assert.doesNotMatch(err.message + JSON.stringify(err.context), /pw-not-shown/);
      return true;
    });
    await sql.exec('DROP ROLE deskgate_nologin');
  });
});
