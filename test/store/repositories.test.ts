import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, TEST_BACKEND, type TestEnv } from '../helpers/env.js';
import {
  openStore, createIntakeRepo, createTicketsRepo, createTicketViewsRepo, createOutboxRepo, createNodesRepo, createMetaRepo,
  isTransientStoreError, type Store, type NewIntake, type NewOutbound,
} from '../../src/store/index.js';
import { DeskgateError } from '../../src/shared/errors.js';
import { createLeadership } from '../../src/pipeline/leader.js';
import { silentLogger } from '../../src/shared/logger.js';

/**
 * The repositories' behaviour, the same on both backends: this file runs on SQLite in the main
 * pass of npm test and on PostgreSQL in its PostgreSQL pass (DESKGATE_TEST_BACKEND).
 */
describe(`store repositories on ${TEST_BACKEND}`, () => {
  let env: TestEnv;
  let store: Store;
  let other: Store; // a second connection (pool), as a second process or node has
  const now = '2026-12-01T10:00:00.000Z';
  let n = 0;
  const row = (over: Partial<NewIntake> = {}): NewIntake => {
    const i = ++n;
    return {
      dedupeKey: `mid:<r${i}@x>`, messageId: `<r${i}@x>`, rawPath: null, rawInline: Buffer.from(`raw ${i}`), rawSize: 5, rawSha256: `h${i}`,
      via: 'smtp', envelopeFrom: 'carol@customer.test', envelopeTo: ['support@acme.test'], remoteIp: '127.0.0.1', helo: 'x',
      sender: null, subject: null, receivedAt: now, contentDigest: `d${i}`, ...over,
    };
  };

  before(async () => {
    env = makeEnv();
    store = await openStore(env.config);
    other = await openStore(env.config);
  });
  after(async () => {
    await other?.close();
    await store?.close();
    env?.cleanup();
  });

  it('R7, R65: a stored key is a duplicate; the same Message-ID with other content is a message of its own', async () => {
    const intake = createIntakeRepo(store.sql);
    const first = row();
    const a = await intake.insert(first);
    assert.equal(a.duplicate, false);
    assert.deepEqual(await intake.insert(first), { id: a.id, duplicate: true, messageIdReused: false });
    const reused = await intake.insert({ ...first, contentDigest: 'other' });
    assert.equal(reused.duplicate, false);
    assert.equal(reused.messageIdReused, true);
    assert.equal((await intake.get(reused.id))!.message_id_reused, true);
    assert.deepEqual(await intake.rawBytes(a.id), first.rawInline);
  });

  it('R10: claimed rows come in arrival (id) order even after updates moved them in storage', async () => {
    const intake = createIntakeRepo(store.sql);
    await store.sql.run("UPDATE intake SET status = 'done' WHERE status = 'received'");
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push((await intake.insert(row())).id);
    // On PostgreSQL an UPDATE writes a new row version at the end of the heap: the first rows now come last.
    await store.sql.run(`UPDATE intake SET helo = 'moved' WHERE id IN (${ids.slice(0, 3).join(', ')})`);
    assert.deepEqual((await intake.claim('order', 10, now)).map((r) => r.id), ids);
    await intake.releaseClaims('order');
    await store.sql.run(`UPDATE intake SET status = 'done' WHERE id IN (${ids.join(', ')})`);
  });

  it('store errors: a deadlock or serialization failure wrapped by the store is transient (the batch runs again, R8)', () => {
    assert.equal(isTransientStoreError(new DeskgateError('STORE_QUERY_FAILED', 'deadlock detected', { context: { sqlstate: '40P01' } })), true);
    assert.equal(isTransientStoreError(new DeskgateError('STORE_POOL_BUSY', 'busy')), true);
    assert.equal(isTransientStoreError(new DeskgateError('PIPELINE_X', 'x', { cause: Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' }) })), true);
    assert.equal(isTransientStoreError(new DeskgateError('STORE_QUERY_FAILED', 'syntax', { context: { sqlstate: '42601' } })), false);
    assert.equal(isTransientStoreError(new Error('bad MIME')), false);
  });

  it('R71: claims: two connections claiming at once never get the same row; a claim fence holds only for its node', async () => {
    const intake = createIntakeRepo(store.sql);
    const intake2 = createIntakeRepo(other.sql);
    const ids: number[] = [];
    for (let i = 0; i < 40; i++) ids.push((await intake.insert(row())).id);
    // Each claim is one statement (UPDATE … RETURNING; SKIP LOCKED on PostgreSQL), as the processor runs it.
    const [x, y] = await Promise.all([intake.claim('node-a', 25, now), intake2.claim('node-b', 25, now)]);
    const claimed = [...x, ...y].map((r) => r.id);
    assert.equal(new Set(claimed).size, claimed.length, 'no row claimed twice');
    assert.ok(claimed.length >= 40 - 3, `${claimed.length} claimed`); // rows inserted by earlier tests are claimable too
    const [mine, alsoMine] = [x[0]!.id, x[1]!.id];
    // The fence is in the outcome's write: only the claim's holder records it.
    assert.equal(await intake.markDone(alsoMine, 'node-a', null, null, now), true);
    assert.equal(await intake.markDone(mine, 'node-b', null, null, now), false);
    assert.deepEqual((await intake.claimers()).sort(), ['node-a', 'node-b']);
    assert.equal(await intake.releaseRows('node-a', [mine]), 1);
    assert.equal(await intake.markDone(mine, 'node-a', null, null, now), false, 'released: the fence no longer holds');
    assert.equal(await intake.releaseClaims('node-b'), y.length);
    await intake.releaseClaims('node-a');
    assert.equal(await intake.pendingCount() >= 39, true); // the 40 but the one marked done above are waiting again
  });

  it('R8, R41: done, failed and retried, suspended, released and deleted', async () => {
    const intake = createIntakeRepo(store.sql);
    await intake.releaseClaims('lane');
    const id = (await intake.insert(row({ sender: 'q@customer.test' }))).id;
    await store.sql.run("UPDATE intake SET status = 'done' WHERE status = 'received' AND id <> ?", [id]);
    const [claimed] = await intake.claim('lane', 1, now);
    assert.equal(claimed!.id, id);
    await intake.markFailed(id, 'lane', 'PARSE_BROKEN', 'bad MIME', now);
    assert.deepEqual((await intake.list('failed')).map((r) => [r.id, r.error_code]), [[id, 'PARSE_BROKEN']]);
    assert.equal(await intake.retry(id), true);
    assert.equal(await intake.retry(id), false, 'not failed any more');
    await intake.claimOne(id, 'lane', now);
    await intake.markSuspended(id, 'lane', 'unverified_agent', now, { from: 'q@customer.test', subject: 'Held' });
    assert.equal((await intake.countByStatus()).suspended, 1);
    assert.equal(await intake.release(id, ['unverified_agent']), true);
    assert.deepEqual((await intake.get(id))!.skip_checks, ['unverified_agent']);
    await intake.claimOne(id, 'lane', now);
    await intake.markSuspended(id, 'lane', 'loop', now, { from: null, subject: 'Held again' });
    assert.equal((await intake.suspendedBefore('2026-12-02T00:00:00Z')).length, 1);
    assert.equal((await intake.deleteSuspended(id, now))!.id, id);
    assert.equal(await intake.rawBytes(id), undefined, 'its bytes are gone too');
    assert.equal((await intake.get(id))!.status, 'deleted');
  });

  it('R12, R21, R28, R30, R42: tickets, people, comments, tags, CCs and Message-IDs', async () => {
    const t = createTicketsRepo(store.sql);
    const carol = await t.ensureUser('carol@customer.test', 'Carol');
    assert.equal(await t.ensureUser('carol@customer.test', 'Someone else'), carol, 'one user per address; the first name stays');
    const id = await t.createTicket({ subject: 'Printer', status: 'new', requesterId: carol, submitterId: carol, groupName: 'Support', recipient: 'support@acme.test', via: 'smtp', followUpOf: null, tags: ['a'], now });
    const c1 = await t.addComment({ ticketId: id, authorId: carol, authorRole: 'end_user', public: true, visibilityRule: 'R16', body: 'Hello', fullBody: null, htmlBody: null, flags: [], messageId: '<m1@x>', to: [], cc: [], auth: null, intakeId: null, via: 'smtp', now },
      [{ filename: 'a.txt', contentType: 'text/plain', size: 3, sha256: 'abc', contentId: null, inline: false }]);
    await t.addComment({ ticketId: id, authorId: carol, authorRole: 'agent', public: false, visibilityRule: 'R18', body: 'Secret', fullBody: null, htmlBody: null, flags: [], messageId: null, to: [], cc: [], auth: null, intakeId: null, via: 'cli', now });
    assert.deepEqual(await t.addTags(id, ['B', 'a', 'b'], now), ['b']);
    assert.deepEqual(await t.removeTags(id, ['A', 'z'], now), ['a']);
    assert.deepEqual(await t.addWarnings(id, ['third_party_reply', 'third_party_reply'], now), ['third_party_reply']);
    const dan = await t.ensureUser('dan@customer.test');
    assert.equal(await t.addCc(id, dan, now), true);
    assert.equal(await t.addCc(id, dan, now), false, 'already a CC');
    await t.markCcNeedsHistory(id, dan, c1);
    assert.deepEqual(await t.ccsOwedHistory(id), ['dan@customer.test']);
    await t.clearCcHistory(id, 'dan@customer.test');
    assert.deepEqual(await t.ccsOwedHistory(id), []);
    assert.equal(await t.addFollower(id, carol, now), true);
    assert.equal(await t.removeFollower(id, carol), true);
    await t.rememberMessageIds(id, ['<m1@x>', '<out1@acme>'], 'in', now);
    const later = await t.createTicket({ subject: 'Other', status: 'new', requesterId: dan, submitterId: null, groupName: null, recipient: 'support@acme.test', via: 'smtp', followUpOf: null, tags: [], now });
    await t.rememberMessageIds(later, ['<m1@x>'], 'in', now);
    assert.deepEqual([...(await t.ticketsForMessageIds(['<m1@x>', '<nope@x>']))], [['<m1@x>', id]], 'the first ticket to claim a Message-ID keeps it');
    assert.deepEqual(await t.messageIds(id), ['<m1@x>', '<out1@acme>']);
    const state = (await t.getState(id))!;
    assert.deepEqual([state.status, state.tags, state.warnings, state.ccs, state.hasPublicComment], ['new', ['b'], ['third_party_reply'], [{ email: 'dan@customer.test', name: null }], true]);
    assert.deepEqual(await t.privateNoteBodies(id), ['Secret']);
    await t.setStatus(id, 'solved', '2026-12-01T11:00:00.000Z');
    assert.equal((await t.getState(id))!.solvedAt, '2026-12-01T11:00:00.000Z');
    await t.markRobot('dan@customer.test');
    assert.equal((await t.robotsAmong(['dan@customer.test'])).has('dan@customer.test'), true);
    assert.deepEqual([...(await t.robotsAmong(['dan@customer.test', 'carol@customer.test']))], ['dan@customer.test']);
    await t.audit({ ticketId: id, at: now, actor: 'cli', rule: 'R35', change: 'status_changed', value: 'new->solved' });
    const shown = (await createTicketViewsRepo(store.sql).show(id))!;
    assert.deepEqual(shown.comments!.map((c) => [c.public, c.body, c.attachments.length]), [[true, 'Hello', 1], [false, 'Secret', 0]]);
    assert.deepEqual(shown.audit!.map((a) => a.change), ['status_changed']);
    assert.ok((await t.openTicketIds()).includes(id));
  });

  it('R43, R59: the outbox: due rows claimed once, retried later, counted per recipient (held ones not)', async () => {
    const t = createTicketsRepo(store.sql);
    const outbox = createOutboxRepo(store.sql);
    const ticketId = await t.createTicket({ subject: 'Out', status: 'open', requesterId: await t.ensureUser('o@customer.test'), submitterId: null, groupName: null, recipient: 'support@acme.test', via: 'smtp', followUpOf: null, tags: [], now });
    const m = (i: number, status: 'queued' | 'held' = 'queued'): NewOutbound => ({
      ticketId, trigger: 'test', status, from: { email: 'support@acme.test', name: 'Acme' }, replyTo: null, to: [{ email: 'o@customer.test', name: null }], cc: [],
      subject: `n${i}`, body: 'b', messageId: `<o${i}.${Math.random()}@acme>`, inReplyTo: null, references: ['<a@x>'], headers: { 'Auto-Submitted': 'auto-generated' }, now,
    });
    const q1 = await outbox.enqueue(m(1));
    await outbox.enqueue(m(2));
    await outbox.enqueue(m(3, 'held'));
    assert.equal(await outbox.countSentTo('o@customer.test', now), 2);
    const [x, y] = await Promise.all([outbox.claimDue('node-a', now, 10), createOutboxRepo(other.sql).claimDue('node-b', now, 10)]);
    assert.equal(x.length + y.length, 2, 'each due row claimed by one node');
    const holder = x.some((r) => r.id === q1) ? 'node-a' : 'node-b';
    assert.equal(await outbox.markDeferred(q1, holder === 'node-a' ? 'node-b' : 'node-a', '451', '2026-12-01T10:05:00.000Z'), false, 'R71: only the holder of the claim records the outcome');
    assert.equal(await outbox.markDeferred(q1, holder, '451 try later', '2026-12-01T10:05:00.000Z'), true);
    assert.equal((await outbox.claimDue('node-c', now, 10)).length, 0, 'not due yet');
    assert.equal((await outbox.claimDue('node-c', '2026-12-01T10:06:00.000Z', 10)).map((r) => r.id)[0], q1);
    assert.equal(await outbox.markSent(q1, 'node-c', now, '250 ok'), true);
    assert.equal(await outbox.markDeferred(q1, holder, 'late', now), false, 'a node whose claim was taken over cannot turn sent back into deferred');
    assert.equal((await outbox.list({ status: 'sent' }))[0]!.references[0], '<a@x>');
    assert.equal((await outbox.depth()).held, 1);
  });

  it('R71: nodes, leads and the once-per-interval claim', async () => {
    const nodes = createNodesRepo(store.sql);
    await nodes.beat({ id: 'n1', host: 'h', pid: 1, startedAt: now }, now, ['automations']);
    await nodes.beat({ id: 'n2', host: 'h', pid: 2, startedAt: now }, '2026-12-01T09:00:00.000Z');
    assert.deepEqual((await nodes.list()).map((x) => [x.id, x.leads]), [['n1', ['automations']], ['n2', []]]);
    assert.deepEqual([...(await nodes.liveIds('2026-12-01T09:30:00.000Z'))], ['n1']);
    assert.equal(await nodes.prune('2026-12-01T09:30:00.000Z', 'n1'), 1);
    const meta = createMetaRepo(store.sql);
    const meta2 = createMetaRepo(other.sql);
    const [s1, s2] = await Promise.all([meta.getOrCreate('secret', 'one'), meta2.getOrCreate('secret', 'two')]);
    assert.equal(s1, s2, 'every node gets the key that won');
    const due = '2026-12-01T09:59:00.000Z';
    const claims = await Promise.all([meta.claimRun('automations', now, due), meta2.claimRun('automations', now, due)]);
    assert.deepEqual(claims.filter(Boolean).length, 1, 'one run per interval, whoever asks');
    assert.equal(await meta.claimRun('automations', '2026-12-01T10:00:30.000Z', '2026-12-01T09:59:30.000Z'), false, 'not due again yet');
    assert.equal(await meta.claimRun('automations', '2026-12-01T10:01:00.000Z', '2026-12-01T10:00:00.000Z'), true);
  });

  it('R71, R41, R52: two nodes asking to lead the same tasks: each runs once per interval, the other node stands by', async () => {
    const lead = (st: Store) => createLeadership({ sql: st.sql, meta: createMetaRepo(st.sql), logger: silentLogger() });
    const [a, b] = [lead(store), lead(other)];
    const ran: string[] = [];
    const t0 = new Date('2026-12-01T12:00:00.000Z');
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    const tick = async (s: number) => {
      for (const [node, l] of [['a', a], ['b', b]] as const) {
        for (const task of ['automations', 'suspended-expiry']) await l.runIfDue(task, at(s), 60_000, async () => { ran.push(`${node}:${task}@${s}`); });
      }
    };
    for (const s of [0, 30, 61, 90, 125]) await tick(s);
    // Both nodes tick at each second given; each task runs at 0, 61 and 125 only, on one node.
    assert.deepEqual(ran.map((r) => r.replace(/^[ab]:/, '')), ['automations@0', 'suspended-expiry@0', 'automations@61', 'suspended-expiry@61', 'automations@125', 'suspended-expiry@125']);
    if (TEST_BACKEND === 'postgres') {
      assert.ok(ran.every((r) => r.startsWith('a:')), 'the first node to ask leads, and keeps leading');
      assert.deepEqual(b.leads(), [], 'the other node stands by');
    }
    await a.release();
    await b.release();
  });

  it('transactions: a nested one is a savepoint; a dry run keeps nothing; a failed one keeps nothing', async () => {
    const t = createTicketsRepo(store.sql);
    const count = async () => (await store.sql.value<number>("SELECT count(*) FROM users WHERE email LIKE 'tx-%'"))!;
    await store.sql.tx(async () => {
      await t.ensureUser('tx-kept@x');
      await assert.rejects(store.sql.tx(async () => { await t.ensureUser('tx-inner@x'); throw new Error('inner'); }), /inner/);
    });
    assert.equal(await count(), 1, 'the outer work stays, the savepoint is rolled back');
    await store.sql.tx(async () => { await t.ensureUser('tx-dry@x'); }, { rollback: true });
    await assert.rejects(store.sql.tx(async () => { await t.ensureUser('tx-failed@x'); throw new Error('boom'); }), /boom/);
    assert.equal(await count(), 1);
  });
});
