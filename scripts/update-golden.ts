/**
 * Regenerates test/fixtures/golden/*.expected.json from the built CLI (run `npm run build`
 * first; `npm run golden` does both). Review the diff before committing: the expected files are
 * the rules' answers (R12, R16, R17, R24, R27, R38, R61-R64 …), not just whatever the code does.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { basename } from 'node:path';
import { runGolden, expectedPath, goldenText } from '../test/golden/harness.js';

let changed = 0;
for (const { name, ticket } of runGolden()) {
  const file = expectedPath(name);
  const text = goldenText(ticket);
  const before = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (before === text) continue;
  writeFileSync(file, text);
  changed++;
  process.stdout.write(`${before === undefined ? 'new' : 'changed'}: ${basename(file)}\n`);
}
process.stdout.write(changed === 0 ? 'golden files unchanged\n' : `${changed} golden file(s) written: review them (git diff test/fixtures/golden)\n`);
