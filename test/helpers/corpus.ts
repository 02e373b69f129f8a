import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The shared test material (the real-mail corpus, the spec) lives outside the repository and
 * is never copied into it: DESKGATE_SHARED_DIR, else `shared/` beside the repository.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SHARED_DIR = resolve(process.env.DESKGATE_SHARED_DIR || join(ROOT, '..', 'shared'));
export const REAL_MAIL_DIR = join(SHARED_DIR, 'testdata', 'real-mail');
export const SPEC_DIR = join(SHARED_DIR, 'spec');

const announced = new Set<string>();

/**
 * For node:test's `skip` option on each test that needs `dir` (so the runner counts them as
 * skipped): false when it exists, else the reason, also printed once per file.
 */
export function skipWithout(what: string, dir: string): string | false {
  if (existsSync(dir)) return false;
  const reason = `${what} not found at ${dir}`;
  if (!announced.has(dir)) {
    announced.add(dir);
    console.log(`${reason}: ${what} tests skipped (DESKGATE_SHARED_DIR may point elsewhere)`);
  }
  return reason;
}

export const skipWithoutCorpus = (): string | false => skipWithout('real-mail corpus', REAL_MAIL_DIR);
