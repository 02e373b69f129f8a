import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './net.js';

const run = promisify(execFile);


/** The newest /usr/lib/postgresql/<version>/bin. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) {
    throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): npm test installs it (apt-get install postgresql) when run as root, or set DESKGATE_TEST_DATABASE_URL to a server the tests may create databases on');
  }
  return join(root, versions[0]!, 'bin');
}

/**
 * A throwaway PostgreSQL cluster: initdb + pg_ctl in a temp dir, on 127.0.0.1 and a free port
 * only (its socket in the same dir), trust authentication, fsync off (tests; benchmarks pass
 * `{ fsync: true }` for a server as durable as a real one). initdb refuses root, so as root
 * everything runs as the `postgres` user.
 */
export class PgCluster {
  constructor(private readonly opts: { fsync?: boolean; serverOptions?: string } = {}) {}
  readonly dir = mkdtempSync(join(tmpdir(), 'deskgate-pg-'));
  port = 0;
  private readonly bin = postgresBinDir();
  private readonly asUser = process.getuid?.() === 0 ? 'postgres' : undefined;

  private command(tool: string, args: string[]): [string, string[]] {
    const path = join(this.bin, tool);
    return this.asUser ? ['runuser', ['-u', this.asUser, '--', path, ...args]] : [path, args];
  }

  get adminUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  log(): string {
    try { return readFileSync(join(this.dir, 'server.log'), 'utf8'); } catch { return ''; }
  }

  async start(): Promise<this> {
    if (this.asUser) {
      const uid = Number(execFileSync('id', ['-u', this.asUser]).toString().trim());
      const gid = Number(execFileSync('id', ['-g', this.asUser]).toString().trim());
      chownSync(this.dir, uid, gid);
      chmodSync(this.dir, 0o700);
    }
    const data = join(this.dir, 'data');
    await run(...this.command('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']));
    // Another process may take the free port between the probe and the bind: try a few.
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      try {
        await this.serverUp();
        this.watchdog(data);
        return this;
      } catch (err) {
        if (attempt >= 3) throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${this.log()}`);
      }
    }
  }

  /**
   * A test process killed by a signal or a timeout runs no exit handler: a small shell waits for
   * the end of a pipe this process holds (however it dies) and then stops the cluster.
   */
  private watchdog(data: string): void {
    const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
    const [cmd, args] = this.command('pg_ctl', ['stop', '-m', 'immediate', '-D', data]);
    const script = `cat >/dev/null; ${[cmd, ...args].map(q).join(' ')} >/dev/null 2>&1; rm -rf ${q(this.dir)}`;
    const dog = spawn('bash', ['-c', script], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    dog.unref();
    (dog.stdin as unknown as { unref?: () => void }).unref?.();
  }

  private serverUp(): Promise<unknown> {
    const data = join(this.dir, 'data');
    const opts = `-c listen_addresses=127.0.0.1 -p ${this.port} -c unix_socket_directories=${this.dir} ${this.opts.fsync ? '' : '-c fsync=off -c full_page_writes=off '}-c max_connections=200 ${this.opts.serverOptions ?? ''}`;
    return run(...this.command('pg_ctl', ['start', '-w', '-t', '60', '-D', data, '-l', join(this.dir, 'server.log'), '-o', opts]));
  }

  /** The server goes away (as a crashed or restarting database does); its data stays for resume(). */
  async pause(): Promise<void> {
    await run(...this.command('pg_ctl', ['stop', '-m', 'immediate', '-w', '-D', join(this.dir, 'data')]));
  }

  /** The server comes back on the same port with its data. */
  async resume(): Promise<void> {
    await this.serverUp();
  }

  async stop(): Promise<void> {
    this.stopSync();
  }

  /** Immediate shutdown (no checkpoint: the data is thrown away) and the temp dir removed. */
  stopSync(): void {
    if (existsSync(join(this.dir, 'data', 'postmaster.pid'))) {
      try {
        execFileSync(...this.command('pg_ctl', ['stop', '-m', 'immediate', '-w', '-D', join(this.dir, 'data')]), { stdio: 'ignore' });
      } catch { /* already gone */ }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let cluster: Promise<PgCluster> | undefined;
let clusterStarted: PgCluster | undefined;
let counter = 0;

/** The admin URL of the server tests use: DESKGATE_TEST_DATABASE_URL, else this process's own cluster. */
async function adminUrl(): Promise<string> {
  const external = process.env.DESKGATE_TEST_DATABASE_URL;
  if (external) return external;
  cluster ??= new PgCluster().start().then((c) => {
    clusterStarted = c;
    // Synchronous: 'exit' handlers cannot wait. Covers a test file that never calls stop().
    process.once('exit', () => c.stopSync());
    return c;
  });
  return (await cluster).adminUrl;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: await adminUrl() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh, empty database on the test server; drop() removes it (closing its connections). */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `deskgate_test_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const u = new URL(await adminUrl());
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    drop: () => admin(async (c) => { await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); }),
  };
}

/** Stops this process's cluster (a no-op with DESKGATE_TEST_DATABASE_URL or when none started). */
export async function stopTestCluster(): Promise<void> {
  if (!cluster) return;
  await cluster.catch(() => {});
  clusterStarted?.stopSync();
  cluster = undefined;
  clusterStarted = undefined;
}
