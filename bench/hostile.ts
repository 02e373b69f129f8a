/**
 * Hostile load (issue 13): a control mail's time to ticket while an attack runs, against the
 * same control mail on a quiet daemon in the same run.
 *   npx tsx bench/hostile.ts [controls=30] [scenarios=slow,html20,cli]
 * Attacks, each on a fresh `deskgate serve` with the default SMTP limits:
 *   slow      100 sessions from 127.0.0.2-6: half send NOOP every 8 s, half trickle DATA at 1 byte/s;
 *             cut sessions reconnect at once, as an attacker would
 *   html20    a 20 MB HTML mail every second from 127.0.0.7
 *   cli       two loops of `deskgate tickets update 1 --comment …` (CLI writes on the database)
 * Time to ticket: from the control client's connect to its intake row being `done`.
 */
import Database from 'better-sqlite3';
import { createConnection, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild, stopChild, percentile, fmt, lineClient, ROOT } from './lib/load.js';

const CONTROLS = Number(process.argv[2] ?? 30);
const ONLY = new Set((process.argv[3] ?? 'slow,html20,cli').split(','));
const PORT = 2636;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function config(dir: string): string {
  const file = join(dir, 'deskgate.yaml');
  // The shipped SMTP limits (max_clients, per-IP sessions, timeouts): what an admin gets.
  writeFileSync(file, `data_dir: ./data
secret: bench-secret
smtp: { listen: [{ host: 127.0.0.1, port: ${PORT} }], reverse_lookup: false }
support_addresses: [{ address: support@acme.test, name: Acme, group: Support }]
groups: [{ name: Support }]
agents: [{ email: bob@acme.test, name: Bob, groups: [Support] }]
trust: { verify: false }
limits: { per_sender_per_hour: 100000 }
log: { level: info, format: json }
`);
  return file;
}

/** A line-reply SMTP client on a given loopback source address. */
function connect(localAddress: string): Promise<{ sock: Socket; reply: () => Promise<string>; cmd: (c: string) => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ port: PORT, host: '127.0.0.1', localAddress });
    sock.on('error', () => {});
    const { reply, cmd } = lineClient(sock);
    sock.once('connect', () => resolve({ sock, reply, cmd }));
    sock.once('error', reject);
  });
}

function message(id: string, body: string, contentType = 'text/plain; charset=utf-8'): string {
  return [`From: Carol <carol@customer.test>`, 'To: support@acme.test', `Subject: ${id}`, `Message-ID: <${id}@bench.test>`,
    'MIME-Version: 1.0', `Content-Type: ${contentType}`, '', body.replace(/^\./gm, '..'), '.', ''].join('\r\n');
}

/** Sends one mail from 127.0.0.1; retries a refused connection every 200 ms. Returns false if it never got a 250. */
async function sendControl(id: string, until: number): Promise<boolean> {
  while (Date.now() < until) {
    try {
      const c = await connect('127.0.0.1');
      const g = await c.reply();
      if (g.startsWith('220')) {
        await c.cmd('EHLO control.test');
        await c.cmd('MAIL FROM:<carol@customer.test>');
        await c.cmd('RCPT TO:<support@acme.test>');
        await c.cmd('DATA');
        c.sock.write(message(id, 'The printer is on fire.'));
        const r = await c.reply();
        c.sock.end('QUIT\r\n');
        if (r.startsWith('250')) return true;
      } else c.sock.destroy();
    } catch { /* refused: try again */ }
    await sleep(200);
  }
  return false;
}

type Attack = (stop: () => boolean, configFile: string) => Promise<void>;

const slowSessions: Attack = async (stop) => {
  async function attacker(n: number): Promise<void> {
    const ip = `127.0.0.${2 + (n % 5)}`;
    while (!stop()) {
      try {
        const c = await connect(ip);
        if (!(await c.reply()).startsWith('220')) { c.sock.destroy(); await sleep(500); continue; }
        await c.cmd(`EHLO slow${n}.test`);
        if (n % 2 === 0) {
          while (!stop() && !c.sock.destroyed) { if ((await c.cmd('NOOP')) === 'closed') break; await sleep(8000); }
        } else {
          await c.cmd('MAIL FROM:<slow@attacker.test>');
          await c.cmd('RCPT TO:<support@acme.test>');
          await c.cmd('DATA');
          const text = message(`slow-${n}`, 'x'.repeat(100_000));
          for (let i = 0; i < text.length && !stop() && !c.sock.destroyed; i++) { c.sock.write(text[i]!); await sleep(1000); }
        }
        c.sock.destroy();
      } catch { await sleep(500); }
    }
  }
  await Promise.all(Array.from({ length: 100 }, (_, n) => attacker(n)));
};

const html20: Attack = async (stop) => {
  const para = '<p>Quarterly report line with <b>bold</b> and <a href="https://x.test/">a link</a> for the archive.</p>\r\n';
  const html = `<html><body>${para.repeat(Math.ceil(20_000_000 / para.length))}</body></html>`;
  let i = 0;
  const sends: Promise<unknown>[] = [];
  while (!stop()) {
    const id = `html-${i++}`;
    sends.push((async () => {
      const c = await connect('127.0.0.7');
      await c.reply();
      await c.cmd('EHLO big.test');
      await c.cmd('MAIL FROM:<newsletter@big.test>');
      await c.cmd('RCPT TO:<support@acme.test>');
      await c.cmd('DATA');
      c.sock.write(message(id, html, 'text/html; charset=utf-8'));
      await c.reply();
      c.sock.end('QUIT\r\n');
    })().catch(() => {}));
    await sleep(1000);
  }
  await Promise.all(sends);
};

const cliLoop: Attack = async (stop, configFile) => {
  const run = () => new Promise<void>((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'dist/main.js'), 'tickets', 'update', '1', '-c', configFile, '--comment', 'checking', '--private', '--author', 'bob@acme.test'], { stdio: 'ignore' });
    p.on('exit', () => resolve());
  });
  const loop = async () => { while (!stop()) await run(); };
  await Promise.all([loop(), loop()]);
};

async function scenario(name: string, attack: Attack | null): Promise<{ name: string; times: number[]; lost: number; stuckFailed: number; attack: Record<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'dg-hostile-'));
  const file = config(dir);
  const dg = await startChild([join(ROOT, 'dist/main.js'), 'serve', '-c', file], /serve:ready/);
  let stopped = false;
  try {
    // Ticket 1 for the CLI attack; also warms the daemon.
    await sendControl(`${name}-warm`, Date.now() + 10_000);
    const db = new Database(join(dir, 'data', 'deskgate.sqlite'), { readonly: true });
    const done = db.prepare("SELECT status FROM intake WHERE message_id = ?").pluck();
    const running = attack ? attack(() => stopped, file) : Promise.resolve();
    if (attack) await sleep(3000); // let the attack take hold
    const times: number[] = [];
    let lost = 0;
    for (let i = 0; i < CONTROLS; i++) {
      const id = `${name}-control-${i}`;
      const t0 = Date.now();
      const ok = await sendControl(id, t0 + 60_000);
      let status: unknown;
      while (ok && Date.now() - t0 < 120_000 && (status = done.get(`<${id}@bench.test>`)) !== 'done' && status !== 'failed') await sleep(20);
      if (ok && status === 'done') times.push(Date.now() - t0); else lost++;
      await sleep(300);
    }
    stopped = true;
    await running;
    const stuckFailed = db.prepare("SELECT COUNT(*) FROM intake WHERE status = 'failed' AND message_id LIKE '%control%'").pluck().get() as number;
    // What the attack itself got in: accepted mail by state when the controls were done.
    const attackMail = Object.fromEntries((db.prepare("SELECT status, COUNT(*) n FROM intake WHERE message_id NOT LIKE '%control%' AND message_id NOT LIKE '%warm%' GROUP BY status").all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n]));
    db.close();
    return { name, times, lost, stuckFailed, attack: attackMail };
  } finally {
    stopped = true;
    await stopChild(dg.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

const quiet = await scenario('quiet', null);
const q50 = percentile(quiet.times, 0.5);
const q99 = percentile(quiet.times, 0.99);
console.log(`hostile load: control mail time to ticket, ${CONTROLS} controls per scenario`);
console.log(`  quiet     p50 ${fmt(q50)} ms  p99 ${fmt(q99)} ms`);
for (const [name, attack] of [['slow', slowSessions], ['html20', html20], ['cli', cliLoop]] as const) {
  if (!ONLY.has(name)) continue;
  const r = await scenario(name, attack);
  const p50 = percentile(r.times, 0.5);
  const p99 = percentile(r.times, 0.99);
  console.log(`  ${name.padEnd(8)}  p50 ${fmt(p50)} ms  p99 ${fmt(p99)} ms  (ratio to quiet p50 ${fmt(p50 / q50, 1)}, p99 ${fmt(p99 / q99, 1)})  not delivered ${r.lost}, failed ${r.stuckFailed}; attack mail ${JSON.stringify(r.attack)}`);
}
