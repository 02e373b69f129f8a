import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startDaemon, type Daemon } from '../../src/daemon.js';
import { silentLogger } from '../../src/shared/logger.js';
import type { Clock } from '../../src/shared/clock.js';
import type { TestEnv } from './env.js';
import { waitFor } from './env.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** The daemon in this process, on an ephemeral port. */
export async function startTestDaemon(env: TestEnv, opts: { parseWorkers?: number; clock?: Clock; inline?: boolean } = {}): Promise<Daemon & { port: number }> {
  // A fake clock cannot cross into a processing thread: such a daemon processes on its own loop.
  const config = opts.clock || opts.inline ? { ...env.config, processing: { ...env.config.processing, workers: 0 } } : env.config;
  const d = await startDaemon(config, { logger: silentLogger(), closeTimeoutMs: 2000, ...(opts.parseWorkers !== undefined ? { parseWorkers: opts.parseWorkers } : {}), ...(opts.clock ? { clock: opts.clock } : {}) });
  return Object.assign(d, { port: d.smtp.addresses()[0]!.port });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `deskgate` CLI (dist/, or `cli`) as admins do, with a bounded run time. */
export function runCli(args: string[], opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; timeoutMs?: number; cli?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.cli ?? CLI, ...args], { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`deskgate ${args.join(' ')} timed out`)); }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    child.stdin.end(opts.input ?? '');
  });
}

export async function cliJson<T = any>(args: string[]): Promise<T> {
  const r = await runCli([...args, '--json']);
  if (r.code !== 0) throw new Error(`deskgate ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** `deskgate serve` as a separate process (for SIGKILL/SIGTERM tests); resolves with its SMTP port. */
export async function spawnServe(configPath: string): Promise<{ child: ChildProcess; port: number; logs: () => string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let logs = '';
  child.stderr!.on('data', (d) => (logs += d));
  const port = await waitFor(() => {
    if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${logs}`);
    const m = /"event":"serve:ready".*?"port":(\d+)/.exec(logs);
    return m ? Number(m[1]) : undefined;
  }, 'deskgate serve to be ready', 20_000);
  return { child, port, logs: () => logs };
}

export function waitExit(child: ChildProcess, timeoutMs = 20_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('process did not exit')), timeoutMs);
    child.once('exit', (code) => { clearTimeout(t); resolve(code); });
  });
}
