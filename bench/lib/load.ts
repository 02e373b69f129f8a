import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface LoadResult { messages: number; seconds: number; rate: number; p50: number; p99: number }

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? 0;
}

/** A message of about `size` bytes; `inReplyTo` makes it a reply. */
export function benchMail(id: string, size: number, inReplyTo?: string, from = 'Carol <carol@customer.test>'): string {
  const head = [`From: ${from}`, `To: support@acme.test`, `Subject: Bench ${id}`, `Message-ID: <${id}@bench.test>`,
    ...(inReplyTo ? [`In-Reply-To: <${inReplyTo}@bench.test>`] : []), 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', ''].join('\r\n');
  const line = 'The printer on the third floor is on fire again, please send help. '.padEnd(76, '.') + '\r\n';
  return head + line.repeat(Math.max(1, Math.floor((size - head.length) / line.length)));
}

/**
 * `sessions` SMTP sessions on reused connections send `total` messages between them; each
 * message's latency is from the end of DATA to the reply.
 */
export async function smtpLoad(port: number, total: number, sessions: number, makeMessage: (i: number) => string, onAck?: () => void): Promise<LoadResult> {
  let next = 0;
  const latencies: number[] = [];
  const started = process.hrtime.bigint();
  async function session(): Promise<void> {
    const sock = createConnection({ port, host: '127.0.0.1' });
    sock.setNoDelay(true);
    const { reply, cmd } = lineClient(sock);
    await reply();
    await cmd('EHLO bench.test');
    for (;;) {
      const i = next++;
      if (i >= total) break;
      await cmd('MAIL FROM:<carol@customer.test>');
      await cmd('RCPT TO:<support@acme.test>');
      await cmd('DATA');
      const t0 = process.hrtime.bigint();
      sock.write(makeMessage(i).replace(/^\./gm, '..') + '\r\n.\r\n');
      const r = await reply();
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (!r.startsWith('250')) throw new Error(`message ${i}: ${r}`);
      onAck?.();
    }
    sock.end('QUIT\r\n');
  }
  await Promise.all(Array.from({ length: sessions }, session));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { messages: total, seconds, rate: total / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

/** Replies of an SMTP server on `sock`, one final line (`250 …`) each; `closed` once the socket is gone. */
export function lineClient(sock: Socket): { reply: () => Promise<string>; cmd: (c: string) => Promise<string> } {
  let buf = '';
  const waiters: Array<(l: string) => void> = [];
  const lines: string[] = [];
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (/^\d{3} /.test(line)) { const w = waiters.shift(); if (w) w(line); else lines.push(line); }
    }
  });
  sock.on('close', () => { for (const w of waiters.splice(0)) w('closed'); });
  const reply = () => (lines.length > 0 ? Promise.resolve(lines.shift()!) : sock.destroyed ? Promise.resolve('closed') : new Promise<string>((r) => waiters.push(r)));
  const cmd = (c: string) => { sock.write(c + '\r\n'); return reply(); };
  return { reply, cmd };
}

/** Starts a child and waits until it prints a line matching `ready`. */
export function startChild(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolve, reject) => {
    // DESKGATE_BENCH_NODE_ARGS: Node options for the processes a bench starts (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
    const nodeArgs = process.env.DESKGATE_BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const child = spawn(process.execPath, [...nodeArgs, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) resolve({ child, output: () => out });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.removeAllListeners('exit');
  await new Promise<void>((resolve) => { child.once('exit', () => resolve()); child.kill('SIGTERM'); });
}

/** A deskgate config for benchmarks in a temp dir; returns its path and data dir. DESKGATE_BENCH_CONFIG adds YAML lines (A/B runs). */
export function benchConfig(port: number, extra = ''): { dir: string; config: string; dataDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dg-bench-'));
  const config = join(dir, 'deskgate.yaml');
  writeFileSync(config, `data_dir: ./data
secret: bench-secret
smtp: { listen: [{ host: 127.0.0.1, port: ${port} }], reverse_lookup: false, max_clients: 500, max_sessions_per_ip: 500 }
support_addresses: [{ address: support@acme.test, name: Acme, group: Support }]
groups: [{ name: Support }]
agents: [{ email: bob@acme.test, name: Bob, groups: [Support] }]
trust: { verify: false }
log: { level: info }
${extra}
${process.env.DESKGATE_BENCH_CONFIG ?? ''}`);
  return { dir, config, dataDir: join(dir, 'data') };
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
