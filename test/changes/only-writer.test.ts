import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * One place changes tickets: the executor (src/changes/apply.ts) is the only code that calls the
 * store's ticket-field writers. Email, triggers, automations, the CLI and the API reach them
 * only through the planner and the executor, so R35 and the audit log cannot drift apart again.
 */
const root = join(import.meta.dirname, '..', '..');
const WRITERS = /\.(setStatus|setAssignee|setGroup|setRequester|setTags|addTags|removeTags|addWarnings|addCc|removeCc|addFollower|removeFollower|markCcNeedsHistory|createTicket|addComment)\(/;
const ALLOWED = new Set(['src/changes/apply.ts', 'src/store/tickets-repo.ts']);

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('R46: one executor writes ticket fields', () => {
  it('no module but src/changes/apply.ts calls the ticket writers', () => {
    const offenders: string[] = [];
    for (const f of files(join(root, 'src'))) {
      const rel = relative(root, f);
      if (ALLOWED.has(rel)) continue;
      readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
        if (WRITERS.test(line) && !line.trim().startsWith('//') && !line.trim().startsWith('*')) offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(offenders, []);
  });
});
