import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeEnv, waitFor, SUPPORT, TEST_BACKEND, type TestEnv } from '../helpers/env.js';
import { spawnServe, waitExit } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { SmtpClient } from '../helpers/smtp.js';
import { Dovecot, IMAP_USER, IMAP_PASS } from '../helpers/dovecot.js';
import { openStore, type Store } from '../../src/store/index.js';
import { SmtpSink } from '../helpers/sink.js';
import { freePort } from '../helpers/net.js';
import { cliJson } from '../helpers/daemon.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * R71: several `deskgate serve` nodes on one PostgreSQL database. Each node is a real process;
 * one is SIGKILLed mid-load and restarted. Runs in the PostgreSQL pass (scripts/test-postgres.ts).
 */
const skip = TEST_BACKEND !== 'postgres' ? 'several nodes need PostgreSQL: runs in the PostgreSQL pass of npm test' : false;

type Node = Awaited<ReturnType<typeof spawnServe>>;

async function stopNode(n: Node | undefined): Promise<void> {
  if (!n || n.child.exitCode !== null || n.child.signalCode !== null) return;
  n.child.kill('SIGTERM');
  await waitExit(n.child, 30_000).catch(() => n.child.kill('SIGKILL'));
}

/** Sends up to `max` messages on one connection until stopped; records the ids that got 250. */
async function sender(port: number, tag: string, max: number, acked: Set<string>, stop: () => boolean): Promise<number> {
  let attempted = 0;
  let c: SmtpClient;
  try {
    c = await SmtpClient.connect(port);
    await c.cmd(`EHLO ${tag}.test`);
  } catch {
    return 0;
  }
  for (let i = 0; i < max && !stop(); i++) {
    const id = `<${tag}-${i}@customer.test>`;
    attempted++;
    let reply: string;
    try {
      reply = await c.send('carol@customer.test', [SUPPORT], mail({ messageId: id, subject: `${tag} ${i}`, body: 'x'.repeat(2000) }));
    } catch {
      break;
    }
    if (!reply.startsWith('250')) break;
    acked.add(id);
  }
  c.destroy();
  return attempted;
}

/** The `automations:ran` log lines (pino, ISO time) logged at or after `since` (ms). */
function runsSince(logs: string, since: number): number {
  let n = 0;
  for (const line of logs.split('\n')) {
    if (!line.includes('"event":"automations:ran"')) continue;
    const time = Date.parse((JSON.parse(line) as { time: string }).time);
    if (time >= since) n++;
  }
  return n;
}

describe('several nodes on one PostgreSQL (R71)', { skip }, () => {
  const envs: TestEnv[] = [];
  const nodes: Node[] = [];
  after(async () => {
    for (const n of nodes) await stopNode(n);
    for (const e of envs) e.cleanup();
  });
  const env = (over: (c: Record<string, unknown>) => void = () => {}) => {
    const e = makeEnv((c) => {
      c.log = { level: 'info' };
      c.processing = { parse_workers: 1, batch_size: 32, claim_lease: '3s' };
      over(c);
    });
    envs.push(e);
    return e;
  };
  const start = async (e: TestEnv) => {
    const n = await spawnServe(e.configPath);
    nodes.push(n);
    return n;
  };
  async function withStore<T>(e: TestEnv, fn: (s: Store) => Promise<T>): Promise<T> {
    const s = await openStore(e.config, { readOnly: true });
    try { return await fn(s); } finally { await s.close(); }
  }

  it('R71, R6, R7: 20 sessions over two nodes, one SIGKILLed at half the load and restarted: every 250 is in exactly one ticket', async () => {
    const e = env();
    const a = await start(e);
    const b = await start(e);
    const acked = new Set<string>();
    let stopA = false;
    let stopAll = false;
    const sessions = [
      ...Array.from({ length: 10 }, (_, i) => sender(a.port, `na${i}`, 60, acked, () => stopA || stopAll)),
      ...Array.from({ length: 10 }, (_, i) => sender(b.port, `nb${i}`, 60, acked, () => stopAll)),
    ];
    await waitFor(() => acked.size >= 600, 'half the load (600 of 1,200) acknowledged', 90_000);
    a.child.kill('SIGKILL');
    await waitExit(a.child);
    stopA = true;
    // Node A's sessions are cut; B keeps accepting and takes over A's claims after the lease.
    const a2 = await start(e);
    const more = Array.from({ length: 5 }, (_, i) => sender(a2.port, `na2-${i}`, 20, acked, () => stopAll));
    const attempted = (await Promise.all([...sessions, ...more])).reduce((x, y) => x + y, 0);
    stopAll = true;
    const counts = await withStore(e, async (s) => {
      await waitFor(async () => (await s.sql.value("SELECT count(*) FROM intake WHERE status IN ('received', 'processing')")) === 0, 'both queues drained', 120_000);
      const out = new Map<string, number>();
      for (const r of await s.sql.all<{ message_id: string; n: number }>('SELECT message_id, count(DISTINCT ticket_id) AS n FROM comments WHERE message_id IS NOT NULL GROUP BY message_id')) out.set(r.message_id, r.n);
      const perMessage = await s.sql.all<{ message_id: string; n: number }>('SELECT message_id, count(*) AS n FROM comments WHERE message_id IS NOT NULL GROUP BY message_id HAVING count(*) > 1');
      const failed = await s.sql.value<number>("SELECT count(*) FROM intake WHERE status = 'failed'");
      return { tickets: out, twice: perMessage.map((r) => r.message_id), failed };
    });
    const lost = [...acked].filter((id) => !counts.tickets.has(id));
    console.log(`# two nodes: attempted=${attempted} acked=${acked.size} stored=${counts.tickets.size} lost=${lost.length} duplicated=${counts.twice.length} failed=${counts.failed}`);
    assert.deepEqual(lost, [], 'acknowledged messages lost');
    assert.deepEqual(counts.twice, [], 'messages stored twice');
    assert.equal(counts.failed, 0);
    assert.match(a2.logs() + b.logs(), /"event":"node:claims_taken_back"/, 'the dead node\'s claims were taken over');
    await stopNode(a2);
    await stopNode(b);
  });

  it('R71: one IMAP account on two nodes: one polls, the other stands by and takes over after the holder is SIGKILLed; nothing imported twice', async () => {
    const dovecot = new Dovecot();
    await dovecot.start();
    try {
      const e = env((c) => {
        c.imap = [{ host: '127.0.0.1', port: dovecot.port, secure: false, user: IMAP_USER, pass: IMAP_PASS, mailbox: 'INBOX', processed_mailbox: 'Processed', poll_interval: '1s', idle: true }];
      });
      const a = await start(e);
      await waitFor(() => /"event":"imap:lock_acquired"/.test(a.logs()), 'the first node polls');
      const b = await start(e);
      await waitFor(() => /"event":"imap:standby"/.test(b.logs()), 'the second node stands by');
      const first = Array.from({ length: 5 }, () => uniqueId('mn-imap'));
      await dovecot.append('INBOX', ...first.map((id) => mail({ messageId: id, subject: 'before the kill' })));
      const commentsOf = (ids: string[]) => withStore(e, async (s) => s.sql.all<{ message_id: string; n: number }>(
        `SELECT message_id, count(*) AS n FROM comments WHERE message_id IN (${ids.map(() => '?').join(', ')}) GROUP BY message_id`, ids));
      await waitFor(async () => (await commentsOf(first)).length === first.length, 'imported by the first node', 30_000);
      assert.doesNotMatch(b.logs(), /"event":"imap:lock_acquired"/, 'the standby node never polled while the first held the account');
      const killedAt = Date.now();
      a.child.kill('SIGKILL');
      await waitExit(a.child);
      await waitFor(() => /"event":"imap:lock_acquired"/.test(b.logs()), 'the standby node takes over', 60_000);
      const takeoverMs = Date.now() - killedAt;
      const second = Array.from({ length: 5 }, () => uniqueId('mn-imap'));
      await dovecot.append('INBOX', ...second.map((id) => mail({ messageId: id, subject: 'after the kill' })));
      await waitFor(async () => (await commentsOf(second)).length === second.length, 'imported by the second node', 30_000);
      const all = await commentsOf([...first, ...second]);
      console.log(`# imap takeover after SIGKILL: ${takeoverMs} ms; ${all.length} messages, ${all.filter((r) => r.n > 1).length} imported twice`);
      assert.ok(takeoverMs < 60_000, `took over within a minute (${takeoverMs} ms)`);
      assert.deepEqual(all.filter((r) => r.n > 1), [], 'nothing imported twice');
      await stopNode(b);
    } finally {
      await dovecot.destroy();
    }
  });

  it('R71, R52, R59: automations on two nodes run on the leader only, once per interval; each outbox mail reaches the smarthost once; the other node takes over after the leader is SIGKILLed', async () => {
    const sink = await new SmtpSink().start();
    const [portA, portB] = [await freePort(), await freePort()];
    const e = env((c) => {
      c.automations_interval = '1s';
      c.metrics = { listen: `127.0.0.1:${portA}` };
      c.outbound = { smtp: { host: '127.0.0.1', port: sink.port, secure: false }, retry_initial: '100ms', retry_max: '400ms', retry_for: '1h' };
      c.automations = {
        defaults: false,
        items: [{
          id: 'mark-new', name: 'Mark new tickets', active: true,
          conditions: { all: [{ field: 'status', value: 'new' }, { field: 'hours_since_created', op: 'gte', value: 0 }, { field: 'tags', op: 'not_includes', value: 'marked' }] },
          actions: [{ add_tags: ['marked'] }, { email_user: 'requester', subject: 'Marked {{ticket.id}}', body: 'marked' }],
        }],
      };
    });
    // The second node: the same config and database, its own /healthz port.
    const configB = join(e.dir, 'node-b.yaml');
    writeFileSync(configB, readFileSync(e.configPath, 'utf8').replace(`127.0.0.1:${portA}`, `127.0.0.1:${portB}`));
    try {
      const a = await start(e);
      const b = await spawnServe(configB);
      nodes.push(b);
      const deliver = async (n: Node, id: string, subject: string) => {
        const c = await SmtpClient.connect(n.port);
        await c.cmd('EHLO auto.test');
        assert.match(await c.send('carol@customer.test', [SUPPORT], mail({ messageId: id, subject })), /^250/);
        c.destroy();
      };
      const ids = Array.from({ length: 6 }, () => uniqueId('mn-auto'));
      for (const [i, id] of ids.entries()) await deliver(i % 2 === 0 ? a : b, id, `auto ${i}`);
      const t0 = Date.now();
      const fired = () => withStore(e, (s) => s.sql.all<{ ticket_id: number; n: number }>(
        "SELECT ticket_id, count(*) AS n FROM audit WHERE actor = 'automation:mark-new' AND change = 'tags_added' GROUP BY ticket_id ORDER BY ticket_id"));
      await waitFor(async () => (await fired()).length === ids.length, 'the automation on every ticket', 30_000);
      await new Promise((r) => setTimeout(r, 4000)); // four more intervals: nothing fires again
      // Runs are counted by their own log time from t0, the window `seconds` measures: runs while
      // the mail was being sent (slow on a loaded machine) are outside it.
      const runs = runsSince(a.logs() + b.logs(), t0);
      const seconds = (Date.now() - t0) / 1000;
      const once = await fired();
      console.log(`# automations on two nodes: ${runs} runs in ${seconds.toFixed(1)} s (interval 1 s), ${once.length} tickets`);
      assert.deepEqual(once.map((r) => r.n), ids.map(() => 1), 'each ticket\'s automation fired once');
      assert.ok(runs <= Math.ceil(seconds) + 3, `${runs} runs in ${seconds.toFixed(1)} s: once per interval across both nodes, not once per node`);
      // One leader: it alone says so in its log, its /healthz and `deskgate stats`.
      const leadsAutomations = (n: Node) => /"event":"leader:acquired","task":"automations"/.test(n.logs());
      assert.equal(Number(leadsAutomations(a)) + Number(leadsAutomations(b)), 1, 'exactly one node took the automations lock');
      const [leader, other, leaderPort, otherPort] = leadsAutomations(a) ? [a, b, portA, portB] : [b, a, portB, portA];
      const health = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { node: { id: string; leads: string[] } };
      assert.ok((await health(leaderPort)).node.leads.includes('automations'), 'the leader\'s /healthz names the task');
      assert.ok(!(await health(otherPort)).node.leads.includes('automations'), 'the other node\'s /healthz does not');
      const stats = await cliJson<{ nodes: Array<{ id: string; leads: string[] }> }>(['stats', '-c', e.configPath]);
      assert.deepEqual(stats.nodes.filter((n) => n.leads.includes('automations')).map((n) => n.id), [(await health(leaderPort)).node.id]);
      // R59: every outbox row (the default triggers' mail and the automation's) reached the
      // smarthost once, whichever node sent it.
      const outboxRows = () => withStore(e, (s) => s.sql.all<{ status: string }>('SELECT status FROM outbox'));
      const allSent = async () => { const rows = await outboxRows(); return rows.length > 0 && rows.every((r) => r.status === 'sent') && sink.messages.length >= rows.length ? rows : undefined; };
      const sentOnce = async (what: string) => {
        const rows = await waitFor(allSent, what, 30_000);
        await new Promise((r) => setTimeout(r, 500)); // a second copy would arrive now
        const messageIds = sink.messages.map((m) => m.mail.messageId);
        assert.equal(sink.messages.length, rows.length, `${sink.messages.length} mails at the smarthost for ${rows.length} outbox rows`);
        assert.equal(new Set(messageIds).size, messageIds.length, 'no mail twice');
      };
      const marked = () => sink.messages.map((m) => m.mail.subject ?? '').filter((t) => t.startsWith('Marked ')).sort();
      await sentOnce('every outbox row sent');
      assert.deepEqual(marked(), once.map((r) => `Marked ${r.ticket_id}`).sort(), 'one automation mail per ticket');

      // The leader dies; the other node takes the lock over and runs the automation for new mail.
      leader.child.kill('SIGKILL');
      await waitExit(leader.child);
      const killedAt = Date.now();
      const later = Array.from({ length: 3 }, () => uniqueId('mn-auto-later'));
      for (const [i, id] of later.entries()) await deliver(other, id, `later ${i}`);
      await waitFor(() => leadsAutomations(other), 'the other node takes over the automations', 60_000);
      const takeoverMs = Date.now() - killedAt;
      await waitFor(async () => (await fired()).length === ids.length + later.length, 'the automation on the later tickets', 30_000);
      await new Promise((r) => setTimeout(r, 3000));
      const after = await fired();
      await sentOnce('every outbox row sent after the takeover');
      console.log(`# automations takeover after SIGKILL: ${takeoverMs} ms; ${after.length} tickets marked, ${sink.messages.length} mails at the smarthost`);
      assert.deepEqual(after.map((r) => r.n), after.map(() => 1), 'still once per ticket');
      assert.deepEqual(marked(), after.map((r) => `Marked ${r.ticket_id}`).sort(), 'one automation mail per ticket across the takeover');
      assert.ok((await health(otherPort)).node.leads.includes('automations'));
      await stopNode(other);
    } finally {
      await sink.stop();
    }
  });
});
