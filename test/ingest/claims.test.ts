import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { makeEnv, waitFor, SUPPORT, type TestEnv } from '../helpers/env.js';
import { spawnServe, waitExit } from '../helpers/daemon.js';
import { mail } from '../helpers/mail.js';
import { openDatabase, sqliteSql, createIntakeRepo, createNodesRepo, sha256Hex, type Sql, type NewIntake } from '../../src/store/index.js';
import { composeApp } from '../../src/compose.js';
import { silentLogger } from '../../src/shared/logger.js';

const LEASE_MS = 3000;

function message(i: number, tag: string): NewIntake {
  const raw = mail({ messageId: `<${tag}-${i}@customer.test>`, subject: `${tag} ${i}` });
  return {
    dedupeKey: `mid:<${tag}-${i}@customer.test>`, messageId: `<${tag}-${i}@customer.test>`, rawPath: null, rawInline: raw, rawSize: raw.length,
    rawSha256: sha256Hex(raw), via: 'smtp', envelopeFrom: 'carol@customer.test', envelopeTo: [SUPPORT], remoteIp: '127.0.0.1', helo: 'x',
    sender: 'carol@customer.test', subject: `${tag} ${i}`, receivedAt: new Date().toISOString(), contentDigest: null,
  };
}

/** Stores `n` messages claimed by `holder`, as a process killed mid-batch leaves them. */
function claimedBy(sql: Sql, holder: string, n: number, tag: string): Promise<number[]> {
  const intake = createIntakeRepo(sql);
  return sql.tx(async () => {
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push((await intake.insert(message(i, tag))).id);
    await intake.claim(holder, n, new Date().toISOString());
    return ids;
  });
}

const statusOf = (sql: Sql, ids: number[]) => sql.column<string>(`SELECT status FROM intake WHERE id IN (${ids.join(',')}) ORDER BY id`);
const allDone = async (sql: Sql, ids: number[]) => (await statusOf(sql, ids)).every((s) => s === 'done');

/**
 * Claims belong to a per-start instance id with a heartbeat (processing.claim_lease), not to
 * a PID: in a container deskgate is PID 1 after every restart, so the previous start's claims
 * carry a PID that is alive again.
 */
describe('intake claims: heartbeat lease, not PID (R6, R71)', () => {
  const envs: TestEnv[] = [];
  after(() => { for (const e of envs) e.cleanup(); });
  const env = () => {
    const e = makeEnv((c) => { c.log = { level: 'info' }; (c.processing as Record<string, unknown>).claim_lease = `${LEASE_MS / 1000}s`; });
    envs.push(e);
    return e;
  };

  it('R6: a container-style restart: claims of the previous start (same host, a live PID, stale heartbeat) are taken back within the lease', async () => {
    const e = env();
    const db = openDatabase(e.config.data_dir);
    const dbSql = sqliteSql(db);
    try {
      // What the previous start of PID 1 left: its id names this host and a PID that runs (ours).
      const previous = `${hostname()}:${process.pid}:0123456789ab`;
      await createNodesRepo(dbSql).beat({ id: previous, host: hostname(), pid: process.pid, startedAt: new Date(Date.now() - 60_000).toISOString() }, new Date().toISOString());
      const ids = await claimedBy(dbSql, previous, 13, 'pid1');
      const serve = await spawnServe(e.configPath);
      const ready = Date.now();
      try {
        await waitFor(() => allDone(dbSql, ids), 'the 13 claimed messages processed', 4 * LEASE_MS);
        const waited = Date.now() - ready;
        // The heartbeat was fresh when serve started: it goes stale within the lease, and the next beat takes the claims.
        assert.ok(waited < LEASE_MS + 2000, `processed ${waited} ms after serve was ready: within the lease (${LEASE_MS} ms) and a beat, not 5 minutes`);
        assert.match(serve.logs(), /"event":"node:claims_taken_back".*"count":13/);
        assert.equal((await createNodesRepo(dbSql).list()).some((n) => n.id === previous), false, 'the dead start is forgotten');
      } finally {
        serve.child.kill('SIGTERM');
        assert.equal(await waitExit(serve.child), 0);
      }
    } finally {
      db.close();
    }
  });

  it('R71: claims of a process whose heartbeat is fresh are left alone; when it stops beating they are taken back', async () => {
    const e = env();
    const db = openDatabase(e.config.data_dir);
    const dbSql = sqliteSql(db);
    const nodes = createNodesRepo(dbSql);
    const other = { id: 'other-host:4242:aaaaaaaaaaaa', host: 'other-host', pid: 4242, startedAt: new Date().toISOString() };
    (await nodes.beat(other, new Date().toISOString()));
    const beating = setInterval(() => void nodes.beat(other, new Date().toISOString()), LEASE_MS / 3);
    try {
      const ids = await claimedBy(dbSql, other.id, 3, 'live');
      const serve = await spawnServe(e.configPath);
      try {
        await new Promise((r) => setTimeout(r, 2 * LEASE_MS));
        assert.deepEqual(await statusOf(dbSql, ids), ['processing', 'processing', 'processing'], 'a live node keeps its claims past the lease');
        clearInterval(beating);
        const stoppedAt = Date.now();
        await waitFor(() => allDone(dbSql, ids), 'taken back once the heartbeat stops', 4 * LEASE_MS);
        assert.ok(Date.now() - stoppedAt >= LEASE_MS - 200, 'not before the lease ran out');
      } finally {
        serve.child.kill('SIGTERM');
        await waitExit(serve.child);
      }
    } finally {
      clearInterval(beating);
      db.close();
    }
  });

  it('R6: a clean stop hands its claims back at once and leaves the nodes table', async () => {
    const e = env();
    const app = await composeApp(e.config, { logger: silentLogger(), parseWorkers: 0 });
    await app.processor.drain(); // the process starts its heartbeat as any claimer does
    const ids = await claimedBy(app.sql, app.ctx.nodeId, 2, 'clean');
    assert.equal((await app.nodes.list()).length, 1);
    await app.close();
    const db = openDatabase(e.config.data_dir);
    const dbSql = sqliteSql(db);
    try {
      assert.deepEqual(await statusOf(dbSql, ids), ['received', 'received']);
      assert.deepEqual(await createNodesRepo(dbSql).list(), []);
    } finally {
      db.close();
    }
  });
});
