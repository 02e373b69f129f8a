import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfigText, type Config } from '../../src/config/index.js';

/** A throwaway directory with a config file; removed by cleanup(). */
export interface TestEnv {
  dir: string;
  configPath: string;
  config: Config;
  cleanup(): void;
}

export const SUPPORT = 'support@acme.test';
export const BILLING = 'billing@acme.test';

export function baseConfig(): Record<string, unknown> {
  return {
    data_dir: './data',
    secret: 'test-secret-0123456789',
    smtp: { listen: [{ host: '127.0.0.1', port: 0 }], hostname: 'mx.acme.test', reverse_lookup: false, max_message_size: '1MB' },
    support_addresses: [
      { address: SUPPORT, name: 'Acme Support', group: 'Support' },
      { address: BILLING, name: 'Acme Billing', group: 'Billing' },
    ],
    groups: [{ name: 'Support' }, { name: 'Billing' }],
    agents: [
      { email: 'alice@acme.test', name: 'Alice', role: 'admin', groups: ['Support'] },
      { email: 'bob@acme.test', name: 'Bob', role: 'agent', groups: ['Support', 'Billing'] },
      { email: 'lea@acme.test', name: 'Léa', role: 'light_agent' },
    ],
    trust: { verify: false },
    // Suites send hundreds of mails from one customer; the R43 tests set their own limit.
    limits: { per_sender_per_hour: 100000 },
    log: { level: 'silent' },
    processing: { parse_workers: 0, batch_size: 64 },
  };
}

/**
 * The backend the suite runs on: SQLite unless DESKGATE_TEST_BACKEND=postgres, which
 * scripts/test-postgres.ts sets (with DESKGATE_TEST_DATABASE_URL, its throwaway server) for the
 * suites that run on both backends. Each env then gets a fresh database of its own.
 */
export const TEST_BACKEND: 'sqlite' | 'postgres' = process.env.DESKGATE_TEST_BACKEND === 'postgres' ? 'postgres' : 'sqlite';

function adminPsql(sql: string): void {
  const admin = process.env.DESKGATE_TEST_DATABASE_URL;
  if (!admin) throw new Error('DESKGATE_TEST_BACKEND=postgres needs DESKGATE_TEST_DATABASE_URL (scripts/test-postgres.ts sets both)');
  execFileSync(process.env.DESKGATE_TEST_PSQL ?? 'psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', admin, '-c', sql], { stdio: ['ignore', 'ignore', 'pipe'] });
}

let databases = 0;

/** A fresh PostgreSQL database for one env, and how to drop it. */
function testDatabase(): { url: string; drop(): void } {
  const name = `dg_${process.pid}_${++databases}_${Math.random().toString(36).slice(2, 8)}`;
  adminPsql(`CREATE DATABASE ${name}`);
  const u = new URL(process.env.DESKGATE_TEST_DATABASE_URL!);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => { try { adminPsql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); } catch { /* the server is gone already */ } } };
}

export function makeEnv(overrides: (c: Record<string, unknown>) => void = () => {}): TestEnv {
  const dir = mkdtempSync(join(tmpdir(), 'deskgate-test-'));
  const raw = baseConfig();
  const db = TEST_BACKEND === 'postgres' ? testDatabase() : undefined;
  if (db) raw.store = { backend: 'postgres', url: db.url, pool_size: 4 };
  overrides(raw);
  const configPath = join(dir, 'deskgate.yaml');
  const text = stringify(raw);
  writeFileSync(configPath, text);
  return {
    dir, configPath, config: parseConfigText(text, configPath),
    cleanup: () => { db?.drop(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Polls `check` until it returns a truthy value; a bounded loop, never an endless wait. */
export async function waitFor<T>(check: () => Promise<T>, what: string, timeoutMs?: number, everyMs?: number): Promise<NonNullable<T>>;
export async function waitFor<T>(check: () => T, what: string, timeoutMs?: number, everyMs?: number): Promise<NonNullable<T>>;
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 25): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
