import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { makeEnv, baseConfig, SUPPORT, type TestEnv } from '../helpers/env.js';
import { startTestDaemon } from '../helpers/daemon.js';
import { mail, uniqueId } from '../helpers/mail.js';
import { SmtpClient } from '../helpers/smtp.js';
import { parseConfigText } from '../../src/config/index.js';
import { composeApp } from '../../src/compose.js';
import { startSmtpListener } from '../../src/ingest/index.js';
import type { AcceptMessage } from '../../src/ingest/accept-message.js';
import { silentLogger } from '../../src/shared/logger.js';
import type { Daemon } from '../../src/daemon.js';

/**
 * Issue 13 item 4: sessions that hold a slot without delivering (NOOP keep-alives, DATA
 * trickled a byte at a time, one address filling max_clients), scaled down: max_clients 5,
 * deadlines of a second or two, a junk limit of 5. Every client speaks over a real socket from
 * its own loopback address (127.0.0.x). Item 5's SMTP part: max_header_size is enforced as set.
 */

type TestDaemon = Daemon & { port: number };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startWith(smtp: Record<string, unknown>): Promise<{ env: TestEnv; d: TestDaemon }> {
  const env = makeEnv((c) => { Object.assign(c.smtp as Record<string, unknown>, smtp); c.metrics = { listen: '127.0.0.1:0' }; });
  return { env, d: await startTestDaemon(env) };
}

/** A counter's value on /metrics (0 when the series is not there yet). */
async function metric(d: TestDaemon, name: string, reason: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${d.metricsPort}/metrics`)).text();
  const m = new RegExp(`^${name}\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function stored(d: TestDaemon, messageId: string): Promise<number> {
  return (await d.app.sql.value('SELECT count(*) FROM intake WHERE message_id = ?', [messageId])) as number;
}

async function closedWithin(c: SmtpClient, ms: number): Promise<void> {
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms).unref());
  await Promise.race([c.closedPromise, timer]);
}

async function inData(port: number, localAddress: string): Promise<SmtpClient> {
  const c = await SmtpClient.connect(port, '127.0.0.1', { localAddress });
  await c.cmd('EHLO slow.test');
  assert.match(await c.cmd('MAIL FROM:<carol@customer.test>'), /^250/);
  assert.match(await c.cmd(`RCPT TO:<${SUPPORT}>`), /^250/);
  assert.match(await c.cmd('DATA'), /^354/);
  return c;
}

/** Writes `raw` one byte every `everyMs` until the server answers or closes (or `limitMs` passes); the answer. */
async function trickle(c: SmtpClient, raw: Buffer, everyMs: number, limitMs: number): Promise<string> {
  let answer: string | undefined;
  const replied = c.reply().then((r) => { answer = r; });
  const until = Date.now() + limitMs;
  for (let i = 0; answer === undefined && !c.isClosed && i < raw.length && Date.now() < until; i++) {
    c.write(raw.subarray(i, i + 1));
    await sleep(everyMs);
  }
  await Promise.race([replied, sleep(200)]);
  return answer ?? 'still in DATA';
}

/** Connects every `everyMs` until the greeting is 220 (or `limitMs` passes). */
async function connectWhenRoom(port: number, localAddress: string, limitMs: number): Promise<{ c: SmtpClient; waitedMs: number }> {
  const t0 = Date.now();
  for (;;) {
    const c = await SmtpClient.open(port, { localAddress });
    if (c.greeting.startsWith('220')) return { c, waitedMs: Date.now() - t0 };
    c.destroy();
    if (Date.now() - t0 > limitMs) throw new Error(`no room for a real client after ${limitMs} ms (last greeting: ${c.greeting})`);
    await sleep(200);
  }
}

async function deliver(c: SmtpClient, messageId: string): Promise<string> {
  await c.cmd('EHLO real.test');
  return c.send('dave@customer.test', [SUPPORT], mail({ messageId, from: 'dave@customer.test' }));
}

describe('issue 13.4: junk commands (smtp.junk_command_limit, Postfix smtpd_junk_command_limit)', () => {
  let env: TestEnv;
  let d: TestDaemon;
  before(async () => ({ env, d } = await startWith({ junk_command_limit: 5, max_clients: 5, socket_timeout: '1s' })));
  after(async () => { await d.stop(); env.cleanup(); });

  it('NOOP, RSET, VRFY, HELP and unknown commands count; the one past the limit gets 421 4.7.0 and the session ends', async () => {
    const c = await SmtpClient.connect(d.port);
    await c.cmd('EHLO junk.test');
    for (const cmd of ['NOOP', 'RSET', 'VRFY carol', 'HELP', 'XYZZY']) assert.doesNotMatch(await c.cmd(cmd), /^421/, cmd);
    assert.match(await c.cmd('NOOP'), /^421 4\.7\.0 /);
    await closedWithin(c, 1000);
  });

  it('a delivered message resets the count (Postfix: "reset after mail is delivered")', async () => {
    const before = await metric(d, 'deskgate_smtp_sessions_closed_total', 'junk_commands');
    const c = await SmtpClient.connect(d.port);
    await c.cmd('EHLO junk.test');
    for (let i = 0; i < 5; i++) assert.match(await c.cmd('NOOP'), /^250/);
    const id = uniqueId('junk-reset');
    assert.match(await c.send('carol@customer.test', [SUPPORT], mail({ messageId: id })), /^250 /);
    for (let i = 0; i < 5; i++) assert.match(await c.cmd('RSET'), /^250/);
    assert.match(await c.cmd('NOOP'), /^421 4\.7\.0 /);
    await closedWithin(c, 1000);
    assert.equal(await stored(d, id), 1, 'the message that got 250 is kept');
    assert.equal(await metric(d, 'deskgate_smtp_sessions_closed_total', 'junk_commands'), before + 1);
  });

  it('5 clients sending NOOP every 250 ms (under socket_timeout) fill max_clients; they are cut and a real client then delivers', async () => {
    const refusedBefore = await metric(d, 'deskgate_smtp_sessions_refused_total', 'max_clients');
    const attackers = await Promise.all([11, 12, 13, 14, 15].map((n) => SmtpClient.connect(d.port, '127.0.0.1', { localAddress: `127.0.0.${n}` })));
    const cut = attackers.map(async (a) => {
      const until = Date.now() + 5000;
      while (Date.now() < until) {
        const r = await a.cmd('NOOP');
        if (!r.startsWith('250')) return r;
        await sleep(250);
      }
      return 'still connected';
    });
    const full = await SmtpClient.open(d.port, { localAddress: '127.0.0.1' });
    assert.match(full.greeting, /^421 /, 'the attackers hold every slot');
    full.destroy();
    const { c, waitedMs } = await connectWhenRoom(d.port, '127.0.0.1', 4000);
    const id = uniqueId('real-after-noop');
    assert.match(await deliver(c, id), /^250 /);
    await c.quit();
    for (const r of await Promise.all(cut)) assert.match(r, /^421 4\.7\.0 /);
    assert.ok(waitedMs < 3000, `the real client waited ${waitedMs} ms`);
    assert.equal(await stored(d, id), 1);
    assert.ok(await metric(d, 'deskgate_smtp_sessions_refused_total', 'max_clients') > refusedBefore, 'refusals are counted');
  });
});

describe('issue 13.4: DATA deadline (smtp.data_timeout, smtp.data_min_rate; Postfix smtpd_min_data_rate)', () => {
  let env: TestEnv;
  let d: TestDaemon;
  before(async () => ({ env, d } = await startWith({ max_clients: 5, data_timeout: '1s', data_min_rate: 500, socket_timeout: '1s' })));
  after(async () => { await d.stop(); env.cleanup(); });

  it('5 senders trickling DATA at 5 bytes/s fill max_clients; each gets 421 4.4.2 after about data_timeout, nothing of theirs is stored, and a real client then delivers', async () => {
    const before = await metric(d, 'deskgate_smtp_sessions_closed_total', 'data_timeout');
    const ids = [21, 22, 23, 24, 25].map(() => uniqueId('trickle'));
    const senders = await Promise.all([21, 22, 23, 24, 25].map((n) => inData(d.port, `127.0.0.${n}`)));
    const t0 = Date.now();
    const answers = senders.map((s, i) => trickle(s, mail({ messageId: ids[i]! }), 200, 5000).then((r) => ({ r, ms: Date.now() - t0 })));
    const full = await SmtpClient.open(d.port, { localAddress: '127.0.0.1' });
    assert.match(full.greeting, /^421 /, 'the tricklers hold every slot');
    full.destroy();
    const { c } = await connectWhenRoom(d.port, '127.0.0.1', 4000);
    const id = uniqueId('real-after-trickle');
    assert.match(await deliver(c, id), /^250 /);
    await c.quit();
    for (const { r, ms } of await Promise.all(answers)) {
      assert.match(r, /^421 4\.4\.2 /);
      assert.ok(ms < 2500, `cut after ${ms} ms (data_timeout 1s)`);
    }
    for (const s of senders) await closedWithin(s, 1000);
    for (const i of ids) assert.equal(await stored(d, i), 0, 'no half message is stored');
    assert.equal(await stored(d, id), 1);
    assert.equal(await metric(d, 'deskgate_smtp_sessions_closed_total', 'data_timeout'), before + 5);
  });

  it('a message that got 250 is kept when the same session is then cut in its next DATA', async () => {
    const c = await SmtpClient.connect(d.port, '127.0.0.1', { localAddress: '127.0.0.26' });
    await c.cmd('EHLO slow.test');
    const first = uniqueId('first');
    const second = uniqueId('second');
    assert.match(await c.send('carol@customer.test', [SUPPORT], mail({ messageId: first })), /^250 /);
    await c.cmd('MAIL FROM:<carol@customer.test>');
    await c.cmd(`RCPT TO:<${SUPPORT}>`);
    assert.match(await c.cmd('DATA'), /^354/);
    assert.match(await trickle(c, mail({ messageId: second }), 200, 5000), /^421 4\.4\.2 /);
    await closedWithin(c, 1000);
    assert.equal(await stored(d, first), 1);
    assert.equal(await stored(d, second), 0);
  });

  it('DATA above data_min_rate may last longer than data_timeout (a rate, not a stopwatch)', async () => {
    const c = await inData(d.port, '127.0.0.27');
    const id = uniqueId('steady');
    const raw = Buffer.concat([mail({ messageId: id, body: ('y'.repeat(76) + '\n').repeat(7_000) }), Buffer.from('.\r\n')]); // ~540 KB
    const t0 = Date.now();
    for (let i = 0; i < raw.length; i += 30_000) { // 300 KB/s, 30 KB every 100 ms: ~1.8 s in all
      c.write(raw.subarray(i, i + 30_000));
      await sleep(100);
    }
    assert.match(await c.reply(), /^250 /);
    assert.ok(Date.now() - t0 > 1000, 'the transfer took longer than data_timeout');
    await c.quit();
    assert.equal(await stored(d, id), 1);
  });
});

describe('issue 13.4: whole-session deadline (smtp.session_timeout)', () => {
  let env: TestEnv;
  let d: TestDaemon;
  before(async () => ({ env, d } = await startWith({ session_timeout: '2s', socket_timeout: '1s' })));
  after(async () => { await d.stop(); env.cleanup(); });

  it('a session that keeps talking (EHLO every 300 ms, no junk) gets 421 4.4.2 at session_timeout', async () => {
    const before = await metric(d, 'deskgate_smtp_sessions_closed_total', 'session_timeout');
    const c = await SmtpClient.connect(d.port);
    const t0 = Date.now();
    let last = '';
    while (Date.now() - t0 < 4000) {
      last = await c.cmd('EHLO chatty.test');
      if (!last.startsWith('250')) break;
      await sleep(300);
    }
    const ms = Date.now() - t0;
    assert.match(last, /^421 4\.4\.2 /);
    assert.ok(ms >= 1500 && ms < 3000, `ended after ${ms} ms (session_timeout 2s)`);
    await closedWithin(c, 1000);
    assert.equal(await metric(d, 'deskgate_smtp_sessions_closed_total', 'session_timeout'), before + 1);
  });

  it('a session in the middle of DATA at its deadline gets 421 4.4.2; that message is not stored, the one before it is', async () => {
    const c = await SmtpClient.connect(d.port);
    await c.cmd('EHLO slow.test');
    const first = uniqueId('before-deadline');
    const cut = uniqueId('at-deadline');
    assert.match(await c.send('carol@customer.test', [SUPPORT], mail({ messageId: first })), /^250 /);
    await c.cmd('MAIL FROM:<carol@customer.test>');
    await c.cmd(`RCPT TO:<${SUPPORT}>`);
    assert.match(await c.cmd('DATA'), /^354/);
    // 20 bytes every 100 ms: well above data_min_rate (500 B/s), so only the session deadline applies.
    const raw = mail({ messageId: cut, body: 'z'.repeat(4000) });
    let answer: string | undefined;
    void c.reply().then((r) => { answer = r; });
    for (let i = 0; answer === undefined && !c.isClosed && i < raw.length; i += 20) { c.write(raw.subarray(i, i + 20)); await sleep(100); }
    await closedWithin(c, 1000);
    assert.match(answer ?? '', /^421 4\.4\.2 /);
    assert.equal(await stored(d, first), 1);
    assert.equal(await stored(d, cut), 0);
  });
});

describe('issue 13.4: a deadline while deskgate stores a message', () => {
  it('the message that is in when session_timeout passes gets its 250 first, then 421 4.4.2; it is stored', async () => {
    const env = makeEnv();
    const app = await composeApp(env.config, { logger: silentLogger() });
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    let storing = false;
    // The real accept, held after it has stored the message, so the deadline passes while the reply is owed.
    const heldAccept = (async (...args: Parameters<AcceptMessage>) => {
      storing = true;
      const result = await app.accept(...args);
      await gate;
      return result;
    }) as AcceptMessage;
    const smtp = await startSmtpListener({
      listen: [{ host: '127.0.0.1', port: 0 }], hostname: 'mx.acme.test', maxMessageSize: 1 << 20, maxClients: 5, maxRecipients: 100,
      socketTimeoutMs: 5000, reverseLookup: false, recipientOf: app.supportAddressOf, closeTimeoutMs: 1000, maxHeaderSize: 65536,
      maxSessionsPerIp: 20, refuseAfterPerHour: () => 1000, isAllowlisted: () => false, isDenylisted: () => false,
      limits: { sessionTimeoutMs: 1000, dataTimeoutMs: 60_000, dataMinRate: 500, junkCommandLimit: 100 },
    }, heldAccept, silentLogger());
    try {
      const c = await SmtpClient.connect(smtp.addresses()[0]!.port);
      await c.cmd('EHLO relay.test');
      const id = uniqueId('held');
      const answer = c.send('carol@customer.test', [SUPPORT], mail({ messageId: id }));
      const t0 = Date.now();
      while (!storing && Date.now() - t0 < 2000) await sleep(20);
      await sleep(1500); // the session deadline (1 s) passes while the message is being stored
      assert.equal(c.isClosed, false, 'the session waits for its reply');
      release();
      assert.match(await answer, /^250 2\.0\.0 Ok: queued as \d+/);
      assert.match(await c.reply(), /^421 4\.4\.2 /);
      await closedWithin(c, 1000);
      assert.equal((await app.sql.value('SELECT count(*) FROM intake WHERE message_id = ?', [id])), 1);
    } finally {
      release();
      await smtp.close();
      await app.close();
      env.cleanup();
    }
  });
});

describe('issue 13.4: when max_clients is full, the address holding the most sessions makes room', () => {
  let env: TestEnv;
  let d: TestDaemon;
  before(async () => ({ env, d } = await startWith({ max_clients: 5, client_allowlist: ['127.0.0.9'] })));
  after(async () => { await d.stop(); env.cleanup(); });

  const open = async (n: number) => {
    const c = await SmtpClient.connect(d.port, '127.0.0.1', { localAddress: `127.0.0.${n}` });
    assert.match(await c.cmd('EHLO host.test'), /^250/);
    return c;
  };

  it('a new client gets in; the newest idle session of the heaviest address gets 421 4.7.0; that address cannot take its slot back', async () => {
    const before = await metric(d, 'deskgate_smtp_sessions_closed_total', 'evicted');
    const heavy: SmtpClient[] = [];
    for (let i = 0; i < 5; i++) heavy.push(await open(2));
    const real = await SmtpClient.connect(d.port, '127.0.0.1', { localAddress: '127.0.0.3' });
    assert.match(await heavy[4]!.reply(), /^421 4\.7\.0 /);
    await closedWithin(heavy[4]!, 1000);
    for (const h of heavy.slice(0, 4)) assert.match(await h.cmd('NOOP'), /^250/, 'older sessions are kept');
    const id = uniqueId('evictor');
    assert.match(await deliver(real, id), /^250 /);
    const again = await SmtpClient.open(d.port, { localAddress: '127.0.0.2' });
    assert.match(again.greeting, /^421 /, 'the heavy address is refused, not swapped for itself');
    again.destroy();
    const second = await SmtpClient.connect(d.port, '127.0.0.1', { localAddress: '127.0.0.4' });
    assert.match(await heavy[3]!.reply(), /^421 4\.7\.0 /);
    assert.equal(await metric(d, 'deskgate_smtp_sessions_closed_total', 'evicted'), before + 2);
    for (const c of [...heavy, real, second]) c.destroy();
    assert.equal(await stored(d, id), 1);
  });

  it('nobody is evicted when every address holds one session, nor an allowlisted relay: the new client gets 421', async () => {
    for (const ips of [[31, 32, 33, 34, 35], [9, 9, 9, 9, 9]]) {
      const held: SmtpClient[] = [];
      for (const n of ips) held.push(await open(n));
      const late = await SmtpClient.open(d.port, { localAddress: '127.0.0.36' });
      assert.match(late.greeting, /^421 /, `full with ${ips.join(',')}`);
      late.destroy();
      for (const h of held) assert.match(await h.cmd('NOOP'), /^250/);
      for (const h of held) { h.destroy(); await h.closedPromise; }
      await sleep(100); // the server sees the sockets close
    }
  });
});

describe('issue 13.5: smtp.max_header_size is enforced as configured', () => {
  const withHeaderSize = (v: string) => {
    const c = baseConfig();
    (c.smtp as Record<string, unknown>).max_header_size = v;
    return stringify(c);
  };
  it('a setting of 256KB or more (beyond the header block ingest reads) is refused at load, naming the key', async () => {
    for (const v of ['512KB', '256KB']) {
      assert.throws(() => parseConfigText(withHeaderSize(v), '/etc/deskgate/deskgate.yaml', {}), /deskgate\.yaml:\d+: smtp\.max_header_size: .*less than 256KB/, v);
    }
  });

  it('max_header_size 200KB: a 150 KB header is accepted, a 300 KB one refused with 552 5.3.4', async () => {
    const { env, d } = await startWith({ max_header_size: '200KB' });
    try {
      const header = (kb: number) => ({ 'X-Padding': Array.from({ length: kb }, () => 'p'.repeat(1000)).join('\r\n ') });
      const ok = uniqueId('hdr-ok');
      const big = uniqueId('hdr-big');
      const c = await SmtpClient.connect(d.port);
      await c.cmd('EHLO hdr.test');
      assert.match(await c.send('carol@customer.test', [SUPPORT], mail({ messageId: ok, headers: header(150) })), /^250 /);
      assert.match(await c.send('carol@customer.test', [SUPPORT], mail({ messageId: big, headers: header(300) })), /^552 5\.3\.4 /);
      await c.quit();
      assert.equal(await stored(d, ok), 1);
      assert.equal(await stored(d, big), 0);
    } finally {
      await d.stop();
      env.cleanup();
    }
  });
});
