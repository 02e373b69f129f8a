import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The golden fixtures: test/fixtures/golden/NN-*.eml go, in name order, through the real pipe
 * intake (`deskgate inject`, the built CLI) into a fresh data dir with the fixed config.yaml
 * beside them; after each one, `tickets show ID --json` of the ticket it landed on is its
 * result. Shared by test/golden/golden.test.ts (compares) and scripts/update-golden.ts (writes).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const GOLDEN_DIR = join(ROOT, 'test/fixtures/golden');
const CONFIG = join(GOLDEN_DIR, 'config.yaml');
const CLI = join(ROOT, 'dist/main.js');

export interface GoldenResult {
  name: string;
  /** The normalised ticket JSON. */
  ticket: unknown;
}

export function goldenFixtures(): string[] {
  return readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.eml')).sort();
}

export function expectedPath(fixture: string): string {
  return join(GOLDEN_DIR, fixture.replace(/\.eml$/, '.expected.json'));
}

export function goldenText(ticket: unknown): string {
  return `${JSON.stringify(ticket, null, 2)}\n`;
}

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
// Notification Message-IDs carry random bytes (pipeline/notify.ts): <dg.TICKET.HEX@domain>.
const NOTIFICATION_ID = /<dg\.(\d+)\.[0-9a-f]+(\.held)?@/g;

/** Replaces what differs from run to run: wall-clock times and the random part of generated ids. */
export function normalise(value: unknown): unknown {
  if (typeof value === 'string') {
    if (ISO_TIME.test(value)) return '<time>';
    return value.replace(NOTIFICATION_ID, '<dg.$1.<random>$2@');
  }
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}

function cli(args: string[], dataDir: string): string {
  const r = spawnSync(process.execPath, [CLI, ...args, '-c', CONFIG, '--json'], {
    encoding: 'utf8', timeout: 60_000, env: { ...process.env, DESKGATE_GOLDEN_DATA: dataDir, DESKGATE_LOG_LEVEL: 'silent' },
  });
  if (r.status !== 0) throw new Error(`deskgate ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}${r.error ? String(r.error) : ''}`);
  return r.stdout;
}

/** Runs every fixture in order into a fresh data dir; the dir is removed afterwards. */
export function runGolden(): GoldenResult[] {
  const dataDir = mkdtempSync(join(tmpdir(), 'deskgate-golden-'));
  try {
    return goldenFixtures().map((name) => {
      const out = JSON.parse(cli(['inject', join(GOLDEN_DIR, name)], dataDir)) as { status: string; ticket_id: number | null; error: string | null };
      if (out.status !== 'done' || out.ticket_id === null) throw new Error(`${name}: not processed into a ticket: ${JSON.stringify(out)}`);
      return { name, ticket: normalise(JSON.parse(cli(['tickets', 'show', String(out.ticket_id)], dataDir))) };
    });
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
