import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
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

export function makeEnv(overrides: (c: Record<string, unknown>) => void = () => {}): TestEnv {
  const dir = mkdtempSync(join(tmpdir(), 'deskgate-test-'));
  const raw = baseConfig();
  overrides(raw);
  const configPath = join(dir, 'deskgate.yaml');
  const text = stringify(raw);
  writeFileSync(configPath, text);
  return { dir, configPath, config: parseConfigText(text, configPath), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
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
