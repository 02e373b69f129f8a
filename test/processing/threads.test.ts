import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { makeEnv, waitFor, SUPPORT } from '../helpers/env.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { SmtpClient, sendMail } from '../helpers/smtp.js';
import type { Daemon } from '../../src/daemon.js';

// Issue 15: serve's listener only receives; processing.workers threads process beside it.

async function commentsOf(d: Daemon, ticketId: number): Promise<string[]> {
  return d.app.sql.column<string>('SELECT message_id FROM comments WHERE ticket_id = ? ORDER BY id', [ticketId]);
}
const ticketOf = (d: Daemon, messageId: string) => d.app.sql.value<number>('SELECT ticket_id FROM comments WHERE message_id = ?', [messageId]);
const allDone = async (d: Daemon, n: number) => (await d.app.sql.value<number>(`SELECT count(*) FROM intake WHERE status = 'done'`)) === n;

/** Sends every message on one session, in order; returns the replies. */
async function sendAll(port: number, messages: Buffer[]): Promise<string[]> {
  const c = await SmtpClient.connect(port);
  try {
    await c.cmd('EHLO client.test');
    const out: string[] = [];
    for (const m of messages) out.push(await c.send('carol@customer.test', [SUPPORT], m));
    return out;
  } finally {
    await c.quit();
  }
}

describe('processing threads (processing.workers)', () => {
  it('one thread: mail becomes tickets off the listener loop, and /metrics sums what the thread counted', async () => {
    const env = makeEnv((c) => { c.metrics = { listen: '127.0.0.1:0' }; (c.processing as Record<string, unknown>).workers = 1; });
    const d = await startTestDaemon(env);
    try {
      assert.equal(d.processing?.count, 1, 'processing runs in a thread');
      const ids = Array.from({ length: 4 }, () => uniqueId('thr'));
      for (const r of await sendAll(d.port, ids.map((id) => mail({ messageId: id })))) assert.match(r, /^250/);
      await waitFor(() => allDone(d, 4), 'four messages processed by the thread');
      // The listener's own processor never claimed anything: every claim was the thread's.
      assert.equal(d.app.ctx.nodeId, (await d.app.nodes.list())[0]?.id, 'thread 0 beats under the node id');
      const text = await (await fetch(`http://127.0.0.1:${d.metricsPort}/metrics`)).text();
      const value = (re: RegExp) => Number(re.exec(text)?.[1]);
      assert.equal(value(/^deskgate_tickets_created_total (\d+)/m), 4, 'counted in the thread, shown by the listener');
      assert.equal(value(/^deskgate_messages_processed_total\{outcome="done"\} (\d+)/m), 4);
      assert.equal(value(/^deskgate_messages_accepted_total\{via="smtp",duplicate="false"\} (\d+)/m), 4, 'counted on the listener');
      assert.equal(value(/^deskgate_intake_high_water (\d+)/m), 50000);
      assert.equal(value(/^deskgate_intake_backlog_full (\d+)/m), 0);
      assert.equal((text.match(/^deskgate_process_cpu_seconds_total /gm) ?? []).length, 1, 'process figures once, from the listener');
      if (process.platform === 'linux') {
        // processing.nice: the processing thread (and the parser threads it starts) run at nice 10, the listener at 0.
        const nices = readdirSync('/proc/self/task').map((tid) => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
        assert.ok(nices.includes(10), `a thread at nice 10 (${nices.join(',')})`);
        assert.equal(nices[0], 0, 'the listener thread keeps its priority');
      }
    } finally {
      await d.stop();
      env.cleanup();
    }
  });

  it('R10 with two threads: a reply-all sent before its original was processed joins it, and replies to one ticket keep arrival order', async () => {
    // batch_size 1: without lanes, consecutive messages would go to different threads nearly every time.
    const env = makeEnv((c) => { Object.assign(c.processing as Record<string, unknown>, { workers: 2, batch_size: 1 }); });
    const d = await startTestDaemon(env);
    try {
      assert.equal(d.processing?.count, 2);
      const pairs = Array.from({ length: 8 }, (_, i) => ({ original: uniqueId(`orig${i}`), replyAll: uniqueId(`all${i}`) }));
      const burst = pairs.flatMap((p) => [
        mail({ messageId: p.original, subject: `Pair ${p.original}` }),
        mail({ messageId: p.replyAll, from: 'Dave <dave@customer.test>', inReplyTo: p.original, references: p.original, subject: `Re: Pair ${p.original}` }),
      ]);
      for (const r of await sendAll(d.port, burst)) assert.match(r, /^250/);
      await waitFor(() => allDone(d, 16), 'the burst processed');
      for (const p of pairs) {
        const t = await ticketOf(d, p.original);
        assert.equal(await ticketOf(d, p.replyAll), t, `${p.replyAll} threads into the ticket of ${p.original}`);
        assert.deepEqual(await commentsOf(d, t!), [p.original, p.replyAll], 'the original first, then the reply-all');
      }
      // Replies to existing tickets, interleaved across tickets, each ticket's in arrival order.
      const tickets = await Promise.all(pairs.slice(0, 3).map((p) => ticketOf(d, p.original)));
      const replies = Array.from({ length: 12 }, (_, i) => ({ ticket: i % 3, id: uniqueId(`r${i}`) }));
      const sent = await sendAll(d.port, replies.map((r) => mail({ messageId: r.id, inReplyTo: pairs[r.ticket]!.replyAll, references: `${pairs[r.ticket]!.original} ${pairs[r.ticket]!.replyAll}`, subject: 'Re: more' })));
      for (const r of sent) assert.match(r, /^250/);
      await waitFor(() => allDone(d, 28), 'the replies processed');
      for (const [k, t] of tickets.entries()) {
        assert.deepEqual((await commentsOf(d, t!)).slice(2), replies.filter((r) => r.ticket === k).map((r) => r.id), `ticket ${t}: replies in arrival order`);
      }
      const lanes = await d.app.sql.column<number>('SELECT DISTINCT lane % 2 FROM intake');
      assert.equal(lanes.length, 2, 'both threads had work (the lanes split the burst)');
    } finally {
      await d.stop();
      env.cleanup();
    }
  });

  it('a processing thread that dies is started again and takes back its claims; nothing is lost or stored twice', async () => {
    const env = makeEnv((c) => { Object.assign(c.processing as Record<string, unknown>, { workers: 1, batch_size: 2 }); });
    const d = await startTestDaemon(env);
    try {
      const ids = Array.from({ length: 200 }, () => uniqueId('died'));
      const sending = Promise.all([0, 1, 2, 3].map((k) => sendAll(d.port, ids.filter((_, i) => i % 4 === k).map((id) => mail({ messageId: id })))));
      await waitFor(async () => ((await d.app.sql.value<number>(`SELECT count(*) FROM intake WHERE status = 'done'`)) ?? 0) >= 10, 'some processed');
      await d.processing!.end(0); // as a crash would: no clean stop, claims left behind
      const doneAtCrash = (await d.app.sql.value<number>(`SELECT count(*) FROM intake WHERE status = 'done'`)) ?? 0;
      for (const r of (await sending).flat()) assert.match(r, /^250/, 'acceptance goes on while the thread is down');
      assert.ok(doneAtCrash < 200, `the thread died mid-load (${doneAtCrash} of 200 done)`);
      await waitFor(() => allDone(d, 200), 'all processed after the restart', 30_000);
      const counts = await d.app.sql.all<{ n: number }>('SELECT count(*) AS n FROM comments GROUP BY message_id');
      assert.equal(counts.length, 200);
      assert.ok(counts.every((c) => c.n === 1), 'each message stored once');
    } finally {
      await d.stop();
      env.cleanup();
    }
  });

  it('processing.workers: 0 keeps processing on the listener loop (the test and inject mode)', async () => {
    const env = makeEnv((c) => { (c.processing as Record<string, unknown>).workers = 0; });
    const d = await startTestDaemon(env);
    try {
      assert.equal(d.processing, undefined);
      assert.match(await sendMail(d.port, SUPPORT, mail({ messageId: uniqueId('inline') })), /^250/);
      await waitFor(() => allDone(d, 1), 'processed inline');
    } finally {
      await d.stop();
      env.cleanup();
    }
  });
});
